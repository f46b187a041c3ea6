//! TEMPORARY stub: replaced by the full settings table.
use std::path::Path;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};

pub struct Config {
    port: AtomicU64,
    bind: std::sync::Mutex<Vec<String>>,
    json: AtomicBool,
}

impl Config {
    pub fn load(
        _file: Option<&Path>,
        overrides: &[(String, Vec<String>)],
    ) -> Result<Config, String> {
        let c = Config {
            port: AtomicU64::new(6379),
            bind: std::sync::Mutex::new(vec!["127.0.0.1".into()]),
            json: AtomicBool::new(false),
        };
        for (k, v) in overrides {
            match k.as_str() {
                "port" => c.port.store(
                    v[0].parse().map_err(|_| "bad port".to_string())?,
                    Ordering::Relaxed,
                ),
                "bind" => *c.bind.lock().unwrap() = v.clone(),
                "json" => c.json.store(v[0] == "yes", Ordering::Relaxed),
                _ => {}
            }
        }
        Ok(c)
    }
    pub fn port(&self) -> u16 {
        self.port.load(Ordering::Relaxed) as u16
    }
    pub fn bind(&self) -> Vec<String> {
        self.bind.lock().unwrap().clone()
    }
    pub fn databases(&self) -> usize {
        16
    }
    pub fn maxclients(&self) -> u64 {
        10000
    }
    pub fn hz(&self) -> u64 {
        10
    }
    pub fn json(&self) -> bool {
        self.json.load(Ordering::Relaxed)
    }
    pub fn loglevel(&self) -> String {
        "notice".into()
    }
    pub fn proto_max_bulk_len(&self) -> u64 {
        512 * 1024 * 1024
    }
    pub fn client_query_buffer_limit(&self) -> u64 {
        1024 * 1024 * 1024
    }
    pub fn get(&self, _patterns: &[&[u8]]) -> Vec<(String, String)> {
        vec![]
    }
    pub fn set(&self, _pairs: &[(&[u8], &[u8])]) -> Result<(), String> {
        Ok(())
    }
}
