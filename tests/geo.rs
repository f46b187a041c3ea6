//! Geospatial commands (geo.c), compared byte for byte with redis-server:
//! GEOADD, GEOPOS, GEODIST, GEOHASH, GEORADIUS[BYMEMBER][_RO],
//! GEOSEARCH[STORE], on fixed scripts and on random data sets and searches.

mod support;

use support::{differential_lines, Pair, Rng};

const SICILY: &str = "geoadd Sicily 13.361389 38.115556 Palermo 15.087269 37.502669 Catania";

#[test]
fn geoadd_and_point_reads() {
    differential_lines(&[
        SICILY,
        "geoadd Sicily 13.361389 38.115556 Palermo",
        "geoadd Sicily ch 13.5 38.1 Palermo",
        "geoadd Sicily nx ch 1 1 Palermo 2 2 x",
        "geoadd Sicily xx 3 3 x 4 4 y",
        "zrange Sicily 0 -1 withscores",
        "object encoding Sicily",
        "geopos Sicily Palermo Catania nope x",
        "geohash Sicily Palermo Catania nope",
        "geodist Sicily Palermo Catania",
        "geodist Sicily Palermo Catania km",
        "geodist Sicily Palermo Catania MI",
        "geodist Sicily Palermo Catania ft",
        "geodist Sicily Palermo Palermo",
        "geodist Sicily Palermo nope",
        "geodist nokey a b",
        "geopos nokey a b",
        "geohash nokey a",
        // The limits, the poles and the antimeridian.
        "geoadd edge 180 85.05112878 ne -180 -85.05112878 sw 0 0 origin 179.999999 0 east -179.999999 0 west",
        "geopos edge ne sw origin east west",
        "geohash edge ne sw origin east west",
        "geodist edge east west",
        "geodist edge ne sw km",
        // A plain ZADD's scores decode too, even outside a geohash's range.
        "zadd plain 0 zero -5 neg 1e20 huge 4503599627370495 max",
        "geopos plain zero neg huge max",
        "geohash plain zero neg huge max",
        "georadius plain 0 0 50000 km withhash",
    ]);
}

#[test]
fn geoadd_and_point_read_errors() {
    differential_lines(&[
        "geoadd g 200 100 x",
        "geoadd g -180.0000001 0 x",
        "geoadd g 0 85.06 x",
        "geoadd g abc 0 x",
        "geoadd g 0 nan x",
        "geoadd g 0 0 x 1 1",
        "geoadd g nx xx 0 0 x",
        "geoadd g gt 0 0 x",
        "geoadd g nx ch ch",
        "geoadd g 0 0",
        "exists g",
        "geodist g a b parsec",
        "geodist g a b km extra",
        "set s x",
        "geoadd s 0 0 x",
        "geopos s x",
        "geohash s x",
        "geodist s a b",
        "georadius s 0 0 1 km",
        "georadiusbymember s a 1 km",
        "geosearch s frommember a byradius 1 km",
        "geosearchstore d s frommember a byradius 1 km",
    ]);
}

#[test]
fn searches_and_their_options() {
    differential_lines(&[
        SICILY,
        "georadius Sicily 15 37 200 km withdist withcoord withhash",
        "georadius Sicily 15 37 200 km withdist desc",
        "georadius Sicily 15 37 200 km asc count 1",
        "georadius Sicily 15 37 200 km count 1 any",
        "georadius Sicily 15 37 200 km count 1 any desc",
        "georadius Sicily 15 37 200000 m withcoord",
        "georadius Sicily 15 37 1 m",
        "georadius_ro Sicily 15 37 200 km withdist",
        "georadiusbymember Sicily Palermo 200 km withdist",
        "georadiusbymember_ro Sicily Palermo 200 km withdist withhash",
        "georadiusbymember nokey Palermo bad unit withdist",
        "georadius nokey 15 37 200 km",
        "geosearch Sicily fromlonlat 15 37 bybox 400 400 km asc withcoord withdist withhash",
        "geosearch Sicily frommember Palermo byradius 100 km",
        "geosearch Sicily frommember Palermo bybox 200 50 mi desc",
        "geosearch Sicily frommember Catania frommember Palermo byradius 1 km byradius 500 km count 1",
        "geosearch nokey frommember x byradius 1 km",
        // Stores: STORE keeps the scores, STOREDIST the distances.
        "georadius Sicily 15 37 200 km store d1",
        "zrange d1 0 -1 withscores",
        "georadius Sicily 15 37 200 km storedist d2 count 1",
        "zrange d2 0 -1 withscores",
        "georadius Sicily 15 37 200 km store x storedist d3",
        "zrange d3 0 -1 withscores",
        "exists x",
        "georadiusbymember Sicily Palermo 50 km store d4",
        "zrange d4 0 -1 withscores",
        "geosearchstore d5 Sicily frommember Palermo byradius 500 km storedist",
        "zrange d5 0 -1 withscores",
        "object encoding d5",
        "geosearchstore d5 Sicily fromlonlat 0 0 byradius 1 km",
        "exists d5",
        "set d6 x",
        "geosearchstore d6 nokey fromlonlat 0 0 byradius 1 km",
        "exists d6",
        "georadius Sicily 15 37 200 km store Sicily",
        "zrange Sicily 0 -1 withscores",
    ]);
}

#[test]
fn search_errors_in_redis_order() {
    differential_lines(&[
        SICILY,
        "georadius Sicily 15 37 -200 km",
        "georadius Sicily 15 37 abc km",
        "georadius Sicily 15 37 200 parsec",
        "georadius Sicily 200 37 200 km",
        "georadius Sicily 15 37 200 km count 0",
        "georadius Sicily 15 37 200 km count -1",
        "georadius Sicily 15 37 200 km count x",
        "georadius Sicily 15 37 200 km count",
        "georadius Sicily 15 37 200 km any",
        "georadius Sicily 15 37 200 km bogus",
        "georadius Sicily 15 37 200 km store",
        "georadius Sicily 15 37 200 km store d withdist",
        "georadius Sicily 15 37 200 km withhash storedist d",
        "georadius_ro Sicily 15 37 200 km store d",
        "georadiusbymember Sicily nope 200 km",
        "georadiusbymember Sicily Palermo -1 km",
        "georadiusbymember_ro Sicily Palermo 1 km storedist d",
        "geosearch Sicily byradius 1 km",
        "geosearch Sicily frommember Palermo",
        "geosearch Sicily frommember Palermo fromlonlat 1 1 byradius 1 km",
        "geosearch Sicily fromlonlat 1 1 frommember Palermo byradius 1 km",
        "geosearch Sicily fromlonlat 1 1 byradius 1 km bybox 1 1 km",
        "geosearch Sicily fromlonlat 1 1 bybox 1 1 km byradius 1 km",
        "geosearch Sicily frommember nope byradius 1 km",
        "geosearch Sicily fromlonlat 1 100 byradius 1 km",
        "geosearch Sicily fromlonlat 1 1 bybox -1 1 km",
        "geosearch Sicily fromlonlat 1 1 bybox x 1 km",
        "geosearch Sicily fromlonlat 1 1 bybox 1 x km",
        "geosearch Sicily fromlonlat 1 1 bybox 1 1 yd",
        "geosearch Sicily fromlonlat 1 1 byradius 1 km store d",
        "geosearch Sicily fromlonlat 1 1 byradius 1 km storedist",
        "geosearch Sicily fromlonlat 1 1 byradius 1 km any",
        "geosearch nokey fromlonlat 1 1 byradius 1 km any",
        "geosearchstore d Sicily fromlonlat 1 1 byradius 1 km withdist",
        "geosearchstore d Sicily fromlonlat 1 1 byradius 1 km store x",
        "geosearchstore d Sicily frommember Palermo",
        "geosearch Sicily fromlonlat 1 1 byradius 1 km count 1 count",
    ]);
}

/// The antimeridian, the poles' limits, infinite and zero sizes, and equal
/// distances cut by COUNT (Redis's partial quicksort decides their order).
#[test]
fn edges_and_ties() {
    differential_lines(&[
        "geoadd g 180 0 a -180 0 b 179.5 10 c -179.5 -10 d 0 85.05 n 0 -85.05 s 90 85 n2 -90 -85 s2",
        "georadius g 0 0 inf km withdist",
        "georadius g 0 0 1e300 km withdist",
        "georadius g 179.9 0 100 km withdist",
        "georadius g -179.9 0 100 km withdist asc",
        "geosearch g fromlonlat 180 0 bybox 400 4000 km withdist",
        "geosearch g fromlonlat -180 0 bybox 40000 100 km withdist desc",
        "geosearch g fromlonlat 0 85 byradius 3000 km withdist withcoord",
        "geosearch g fromlonlat 0 -85 bybox 10000 10000 km withdist",
        "georadius g 0 0 -0 km",
        "georadius g 0 0 0 km",
        "geosearch g fromlonlat 0 0 bybox 0 0 m",
        "georadius g 0 0 20000 km count 3 withdist",
        "georadius g 0 0 20000 km count 3 any withdist",
        "georadius g 0 0 20000 km count 3 desc withdist",
        "geosearch g frommember n bybox inf inf m withdist",
        "geodist g a b",
        "geodist g n s mi",
        "geoadd g 0 0 x 0 0 y 0 0 z 0 0 w 0 0 v 0 0 u 0 0 t 0 0 r",
        "georadius g 0 0 10 km count 4",
        "georadius g 0 0 10 km count 4 desc",
        "georadius g 0 0 10 km asc",
        "georadius g 0 0 10 km count 2 any",
    ]);
}

/// GEOPOS and WITHCOORD answer RESP3 doubles; distances stay bulk strings.
#[test]
fn resp3_coordinates() {
    let Some(mut pair) = Pair::new() else {
        return;
    };
    pair.resp3();
    for line in [
        SICILY,
        "geopos Sicily Palermo nope",
        "geodist Sicily Palermo Catania",
        "georadius Sicily 15 37 200 km withdist withcoord withhash",
        "geosearch Sicily frommember Palermo byradius 10 km withcoord",
    ] {
        let args: Vec<&str> = line.split_whitespace().collect();
        pair.check(&args);
    }
}

/// A coordinate with up to six decimals within the given bounds.
fn coord(rng: &mut Rng, min: f64, max: f64) -> String {
    let span = ((max - min) * 1e6) as u64;
    format!("{:.6}", min + rng.below(span + 1) as f64 / 1e6)
}

/// Random points (some on the limits, the poles' edges and the
/// antimeridian), in a small (listpack) and a big (skiplist) set.
fn fill(pair: &mut Pair, rng: &mut Rng, key: &str, n: usize) {
    let specials = [
        ("180", "0"),
        ("-180", "0"),
        ("179.9999", "85.05112878"),
        ("-179.9999", "-85.05112878"),
        ("0", "85.05112878"),
        ("0", "-85.05112878"),
        ("0", "0"),
    ];
    for (i, (lon, lat)) in specials.iter().enumerate() {
        pair.check(&["geoadd", key, lon, lat, &format!("special{i}")]);
    }
    for i in 0..n {
        // Half everywhere, half packed around one city, to make ties and
        // cell edges likely.
        let (lon, lat) = if i % 2 == 0 {
            (coord(rng, -180.0, 180.0), coord(rng, -85.05, 85.05))
        } else {
            (coord(rng, 13.0, 13.5), coord(rng, 38.0, 38.3))
        };
        pair.check(&["geoadd", key, &lon, &lat, &format!("m{i}")]);
    }
}

/// One random search of each form with random options.
fn random_search(rng: &mut Rng, key: &str, members: usize) -> Vec<String> {
    let units = ["m", "km", "ft", "mi", "KM"];
    let mut args: Vec<String> = Vec::new();
    let size = |rng: &mut Rng| match rng.below(6) {
        0 => "0".to_string(),
        1 => format!("{}", rng.below(100)),
        2 => format!("{}", rng.below(100_000)),
        3 => format!("{}.{}", rng.below(5000), rng.below(1000)),
        4 => "20000".to_string(),
        _ => "100000000".to_string(),
    };
    let centre = |rng: &mut Rng| {
        if rng.below(2) == 0 {
            (coord(rng, -180.0, 180.0), coord(rng, -85.05, 85.05))
        } else {
            (coord(rng, 12.5, 14.0), coord(rng, 37.5, 38.8))
        }
    };
    let member = |rng: &mut Rng| format!("m{}", rng.below(members as u64));
    match rng.below(4) {
        0 => {
            let (lon, lat) = centre(rng);
            let radius = size(rng);
            args.extend(["georadius".into(), key.into(), lon, lat, radius]);
            args.push(units[rng.below(5) as usize].into());
        }
        1 => {
            let (m, radius) = (member(rng), size(rng));
            args.extend(["georadiusbymember_ro".into(), key.into(), m, radius]);
            args.push(units[rng.below(5) as usize].into());
        }
        _ => {
            args.extend(["geosearch".into(), key.into()]);
            if rng.below(2) == 0 {
                let (lon, lat) = centre(rng);
                args.extend(["fromlonlat".into(), lon, lat]);
            } else {
                let m = member(rng);
                args.extend(["frommember".into(), m]);
            }
            if rng.below(2) == 0 {
                let radius = size(rng);
                args.extend(["byradius".into(), radius]);
            } else {
                let (w, h) = (size(rng), size(rng));
                args.extend(["bybox".into(), w, h]);
            }
            args.push(units[rng.below(5) as usize].into());
        }
    }
    for option in ["withdist", "withcoord", "withhash"] {
        if rng.below(2) == 0 {
            args.push(option.into());
        }
    }
    match rng.below(3) {
        0 => args.push("asc".into()),
        1 => args.push("desc".into()),
        _ => {}
    }
    if rng.below(3) == 0 {
        args.extend(["count".into(), format!("{}", 1 + rng.below(20))]);
        if rng.below(2) == 0 {
            args.push("any".into());
        }
    }
    args
}

#[test]
fn random_data_sets_and_searches_match_redis() {
    let Some(mut pair) = Pair::new() else {
        return;
    };
    let mut rng = Rng(0x9e3779b97f4a7c15);
    // 60 members stay a listpack; 400 make a skiplist.
    fill(&mut pair, &mut rng, "small", 60);
    fill(&mut pair, &mut rng, "big", 400);
    pair.check(&["object", "encoding", "small"]);
    pair.check(&["object", "encoding", "big"]);
    for (key, members) in [("small", 60), ("big", 400)] {
        for _ in 0..400 {
            let args = random_search(&mut rng, key, members);
            let args: Vec<&str> = args.iter().map(String::as_str).collect();
            pair.check(&args);
        }
        for _ in 0..50 {
            let a = format!("m{}", rng.below(members as u64));
            let b = format!("m{}", rng.below(members as u64));
            pair.check(&["geodist", key, &a, &b, "km"]);
            pair.check(&["geopos", key, &a, &b]);
            pair.check(&["geohash", key, &a, &b]);
        }
        // Stored results, both kinds, compared through their contents.
        for storedist in ["store", "storedist"] {
            pair.check(&[
                "georadius",
                key,
                "13.2",
                "38.1",
                "30",
                "km",
                storedist,
                "dst",
            ]);
            pair.check(&["zrange", "dst", "0", "-1", "withscores"]);
            pair.check(&["object", "encoding", "dst"]);
        }
    }
}
