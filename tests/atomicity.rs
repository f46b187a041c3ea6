//! Multi-key commands are atomic and cannot deadlock: the shard locks of all
//! their keys are taken together, in one global order.

mod support;

use std::thread;

use support::Server;

#[test]
fn mset_is_never_seen_half_done_and_opposite_orders_do_not_deadlock() {
    let server = Server::start();
    let writers: Vec<_> = (0..4)
        .map(|w| {
            let mut conn = server.connect();
            thread::spawn(move || {
                for i in 0..500 {
                    let v = format!("{w}-{i}");
                    // Half the writers name the keys in the opposite order.
                    let reply = if w % 2 == 0 {
                        conn.cmd_str(&["MSET", "a", &v, "b", &v, "c", &v])
                    } else {
                        conn.cmd_str(&["MSET", "c", &v, "b", &v, "a", &v])
                    };
                    assert_eq!(reply, "+OK\r\n");
                }
            })
        })
        .collect();
    let readers: Vec<_> = (0..2)
        .map(|_| {
            let mut conn = server.connect();
            thread::spawn(move || {
                for _ in 0..500 {
                    let reply = conn.cmd_str(&["MGET", "a", "b", "c"]);
                    let values: Vec<&str> = reply
                        .lines()
                        .filter(|l| !l.starts_with(['*', '$']))
                        .collect();
                    // Every database holds all three keys from one MSET, or none.
                    assert!(
                        values.is_empty()
                            || (values.len() == 3 && values.iter().all(|v| *v == values[0])),
                        "MGET saw a half-applied MSET: {reply:?}"
                    );
                    // Swapping whole databases must be atomic against MSET too.
                    conn.cmd(&["SWAPDB", "0", "1"]);
                    conn.cmd(&["SWAPDB", "0", "1"]);
                }
            })
        })
        .collect();
    for t in writers.into_iter().chain(readers) {
        t.join().expect("client thread");
    }
}
