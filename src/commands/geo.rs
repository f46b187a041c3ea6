//! Geospatial commands (Redis 7.0's geo.c) over sorted sets whose scores
//! are geohashes; the arithmetic is in `types::geo`.
//!
//! The handlers keep Redis's order of checks, which clients can see: the
//! source key's type first, then the centre and size, then the options in
//! the order given, then the checks across options, and only then does a
//! missing key answer an empty result.

use bytes::Bytes;

use super::args::{float_arg, int_arg, is, syntax_error};
use super::zset::{limits, read, zadd_generic};
use super::{argv, cmd, CmdResult, Ctx, Registration};
use crate::config::notify;
use crate::keyspace::Value;
use crate::number::{format_double_human, format_i64, parse_f64};
use crate::pqsort::pqsort;
use crate::protocol::Reply;
use crate::types::geo::{self, Point, Shape, ShapeKind};
use crate::types::zset::{AddFlags, ZSet};

pub static COMMANDS: &[Registration] = &[
    cmd("geoadd", geoadd),
    cmd("geodist", geodist),
    cmd("geohash", geohash),
    cmd("geopos", geopos),
    cmd("georadius", georadius),
    cmd("georadius_ro", georadius_ro),
    cmd("georadiusbymember", georadiusbymember),
    cmd("georadiusbymember_ro", georadiusbymember_ro),
    cmd("geosearch", geosearch),
    cmd("geosearchstore", geosearchstore),
];

const ERR_UNDECODABLE_MEMBER: &str = "ERR could not decode requested zset member";

/// Redis `extractLongLatOrReply`: two floats, then the WGS84/Mercator limits.
fn lon_lat_arg(args: &[&[u8]]) -> Result<(f64, f64), Reply> {
    let lon = float_arg(args[0])?;
    let lat = float_arg(args[1])?;
    if !geo::valid_lon_lat(lon, lat) {
        return Err(Reply::error_owned(format!(
            "ERR invalid longitude,latitude pair {lon:.6},{lat:.6}"
        )));
    }
    Ok((lon, lat))
}

/// Redis `extractUnitOrReply`: metres per unit.
fn unit_arg(arg: &[u8]) -> Result<f64, Reply> {
    [("m", 1.0), ("km", 1000.0), ("ft", 0.3048), ("mi", 1609.34)]
        .into_iter()
        .find(|(name, _)| is(arg, name))
        .map(|(_, metres)| metres)
        .ok_or_else(|| Reply::error("ERR unsupported unit provided. please use M, KM, FT, MI"))
}

/// A float argument with its own error text (`getDoubleFromObjectOrReply` with a message).
fn float_or(arg: &[u8], msg: &'static str) -> Result<f64, Reply> {
    parse_f64(arg).ok_or_else(|| Reply::error(msg))
}

/// Redis `extractDistanceOrReply`: radius, unit.
fn radius_arg(args: &[&[u8]]) -> Result<(ShapeKind, f64), Reply> {
    let radius = float_or(args[0], "ERR need numeric radius")?;
    if radius < 0.0 {
        return Err(Reply::error("ERR radius cannot be negative"));
    }
    Ok((ShapeKind::Radius(radius), unit_arg(args[1])?))
}

/// Redis `extractBoxOrReply`: width, height, unit.
fn box_arg(args: &[&[u8]]) -> Result<(ShapeKind, f64), Reply> {
    let width = float_or(args[0], "ERR need numeric width")?;
    let height = float_or(args[1], "ERR need numeric height")?;
    if height < 0.0 || width < 0.0 {
        return Err(Reply::error("ERR height or width cannot be negative"));
    }
    Ok((ShapeKind::Box { width, height }, unit_arg(args[2])?))
}

/// Redis `addReplyDoubleDistance`: `fixedpoint_d2string` with four decimals.
fn distance_text(d: f64) -> Bytes {
    if d == 0.0 {
        return Bytes::from_static(b"0.0000");
    }
    // `llrint`: ties to even; out of range is x86's "integer indefinite".
    let scaled = (d * 10000.0).round_ties_even();
    let two_63 = (1u64 << 63) as f64;
    let svalue = if scaled.is_nan() || !(-two_63..two_63).contains(&scaled) {
        i64::MIN
    } else {
        scaled as i64
    };
    let mut digits = Vec::with_capacity(24);
    format_i64(svalue, &mut digits);
    let negative = svalue < 0;
    let digits = if negative { &digits[1..] } else { &digits[..] };
    let mut out = Vec::with_capacity(digits.len() + 3);
    if negative {
        out.push(b'-');
    }
    if digits.len() <= 4 {
        out.extend_from_slice(b"0.");
        out.extend(std::iter::repeat_n(b'0', 4 - digits.len()));
        out.extend_from_slice(digits);
    } else {
        let (int, frac) = digits.split_at(digits.len() - 4);
        out.extend_from_slice(int);
        out.push(b'.');
        out.extend_from_slice(frac);
    }
    Bytes::from(out)
}

/// A coordinate as Redis's `addReplyHumanLongDouble` sends it.
fn coordinate(v: f64) -> Reply {
    Reply::DoubleText(Bytes::from(format_double_human(v)))
}

// ---- GEOADD ----

/// Redis `geoaddCommand`: the points become scores, then ZADD does the
/// rest, and the command is propagated as that ZADD.
fn geoadd(ctx: &mut Ctx, args: &[&[u8]]) -> CmdResult {
    let (mut nx, mut xx) = (false, false);
    let mut first = 2;
    while let Some(opt) = args.get(first) {
        if is(opt, "nx") {
            nx = true;
        } else if is(opt, "xx") {
            xx = true;
        } else if !is(opt, "ch") {
            break;
        }
        first += 1;
    }
    let triples = &args[first..];
    if !triples.len().is_multiple_of(3) || (xx && nx) {
        return Err(syntax_error());
    }
    let mut scores = Vec::with_capacity(triples.len() / 3);
    for triple in triples.chunks(3) {
        let (lon, lat) = lon_lat_arg(triple)?;
        let score = geo::score_of(lon, lat).unwrap_or(0);
        let mut text = Vec::with_capacity(16);
        format_i64(score as i64, &mut text);
        scores.push(text);
    }
    let mut zadd: Vec<&[u8]> = Vec::with_capacity(first + scores.len() * 2);
    zadd.push(b"zadd");
    zadd.extend_from_slice(&args[1..first]);
    for (score, triple) in scores.iter().zip(triples.chunks(3)) {
        zadd.push(score);
        zadd.push(triple[2]);
    }
    let reply = zadd_generic(ctx, &zadd, AddFlags::default());
    ctx.propagate_as(|| argv(&zadd));
    reply
}

// ---- GEOPOS / GEOHASH / GEODIST ----

fn geopos(ctx: &mut Ctx, args: &[&[u8]]) -> CmdResult {
    let server = ctx.server;
    let mut db = ctx.db();
    let z = read(server, &mut db, args[1])?;
    let position = |member: &[u8]| {
        let (lon, lat) = geo::decode_score(z?.score(member)?)?;
        Some(Reply::Array(vec![coordinate(lon), coordinate(lat)]))
    };
    Ok(Reply::Array(
        args[2..]
            .iter()
            .map(|m| position(m).unwrap_or(Reply::NullArray))
            .collect(),
    ))
}

fn geohash(ctx: &mut Ctx, args: &[&[u8]]) -> CmdResult {
    let server = ctx.server;
    let mut db = ctx.db();
    let z = read(server, &mut db, args[1])?;
    let hash = |member: &[u8]| {
        let text = geo::geohash_string(z?.score(member)?)?;
        Some(Reply::bulk_copy(&text))
    };
    Ok(Reply::Array(
        args[2..]
            .iter()
            .map(|m| hash(m).unwrap_or(Reply::Null))
            .collect(),
    ))
}

fn geodist(ctx: &mut Ctx, args: &[&[u8]]) -> CmdResult {
    let to_meter = match args.len() {
        5 => unit_arg(args[4])?,
        n if n > 5 => return Err(syntax_error()),
        _ => 1.0,
    };
    let server = ctx.server;
    let mut db = ctx.db();
    let Some(z) = read(server, &mut db, args[1])? else {
        return Ok(Reply::Null);
    };
    let (Some(s1), Some(s2)) = (z.score(args[2]), z.score(args[3])) else {
        return Ok(Reply::Null);
    };
    Ok(match (geo::decode_score(s1), geo::decode_score(s2)) {
        (Some((lon1, lat1)), Some((lon2, lat2))) => Reply::Bulk(distance_text(
            geo::distance(lon1, lat1, lon2, lat2) / to_meter,
        )),
        _ => Reply::Null,
    })
}

// ---- GEORADIUS family and GEOSEARCH[STORE] ----

/// Which of Redis's `georadiusGeneric` variants runs (its `flags`).
#[derive(Clone, Copy, PartialEq)]
enum Variant {
    /// GEORADIUS[_RO]: centre and radius are positional.
    Radius { store: bool },
    /// GEORADIUSBYMEMBER[_RO]: a member and a radius.
    ByMember { store: bool },
    /// GEOSEARCH / GEOSEARCHSTORE: FROM... and BY... options.
    Search { store: bool },
}

fn georadius(ctx: &mut Ctx, args: &[&[u8]]) -> CmdResult {
    search_generic(ctx, args, Variant::Radius { store: true })
}

fn georadius_ro(ctx: &mut Ctx, args: &[&[u8]]) -> CmdResult {
    search_generic(ctx, args, Variant::Radius { store: false })
}

fn georadiusbymember(ctx: &mut Ctx, args: &[&[u8]]) -> CmdResult {
    search_generic(ctx, args, Variant::ByMember { store: true })
}

fn georadiusbymember_ro(ctx: &mut Ctx, args: &[&[u8]]) -> CmdResult {
    search_generic(ctx, args, Variant::ByMember { store: false })
}

fn geosearch(ctx: &mut Ctx, args: &[&[u8]]) -> CmdResult {
    search_generic(ctx, args, Variant::Search { store: false })
}

fn geosearchstore(ctx: &mut Ctx, args: &[&[u8]]) -> CmdResult {
    search_generic(ctx, args, Variant::Search { store: true })
}

#[derive(Clone, Copy, PartialEq)]
enum Order {
    None,
    Asc,
    Desc,
}

/// What a search asked for besides its shape.
#[derive(Default)]
struct Options<'a> {
    withdist: bool,
    withhash: bool,
    withcoord: bool,
    any: bool,
    /// 0: unlimited.
    count: i64,
    store: Option<&'a [u8]>,
    storedist: bool,
}

/// What a search ends in: a reply, or members to store.
enum Outcome<'a> {
    Reply(Reply),
    Store {
        dst: &'a [u8],
        points: Vec<Point>,
        storedist: bool,
    },
}

/// Redis `georadiusGeneric`.
fn search_generic(ctx: &mut Ctx, args: &[&[u8]], variant: Variant) -> CmdResult {
    let server = ctx.server;
    let mut db = ctx.db();
    let outcome = {
        let src = if variant == (Variant::Search { store: true }) {
            2
        } else {
            1
        };
        let z = read(server, &mut db, args[src])?;
        search(z, args, variant)?
    };
    let (dst, mut points, storedist) = match outcome {
        Outcome::Reply(reply) => return Ok(reply),
        Outcome::Store {
            dst,
            points,
            storedist,
        } => (dst, points, storedist),
    };
    let stored = points.len();
    if stored == 0 {
        db.delete(dst);
        return Ok(Reply::from(0i64));
    }
    let mut items: Vec<(Vec<u8>, f64)> = points
        .drain(..)
        .map(|p| (p.member, if storedist { p.dist } else { p.score }))
        .collect();
    items.sort_by(|a, b| a.1.total_cmp(&b.1).then_with(|| a.0.cmp(&b.0)));
    items.dedup_by(|a, b| a.0 == b.0);
    let event = match variant {
        Variant::Search { .. } => "geosearchstore",
        _ => "georadiusstore",
    };
    db.set(
        dst,
        Value::ZSet(ZSet::from_sorted(items, limits(server))),
        None,
    );
    db.notify(notify::ZSET, event, dst);
    // Redis counts one change per stored member (`server.dirty += returned_items`).
    db.add_changes(stored as u64 - 1);
    Ok(Reply::from(stored as i64))
}

/// The read half of `georadiusGeneric`: parse, search, sort, and either
/// answer or hand back what to store.
fn search<'a>(z: Option<&ZSet>, args: &[&'a [u8]], variant: Variant) -> Result<Outcome<'a>, Reply> {
    let member_point = |z: &ZSet, member: &[u8]| {
        z.score(member)
            .and_then(geo::decode_score)
            .ok_or_else(|| Reply::error(ERR_UNDECODABLE_MEMBER))
    };
    let mut centre: Option<(f64, f64)> = None;
    let mut size: Option<(ShapeKind, f64)> = None;
    let mut opts = Options::default();
    let base = match variant {
        Variant::Radius { .. } => {
            centre = Some(lon_lat_arg(&args[2..4])?);
            size = Some(radius_arg(&args[4..6])?);
            6
        }
        Variant::ByMember { .. } => {
            if let Some(z) = z {
                centre = Some(member_point(z, args[2])?);
                size = Some(radius_arg(&args[3..5])?);
            }
            5
        }
        Variant::Search { store } => {
            if store {
                opts.store = Some(args[1]);
                3
            } else {
                2
            }
        }
    };
    let (search, search_store) = match variant {
        Variant::Search { store } => (true, store),
        _ => (false, false),
    };
    let nostore = matches!(
        variant,
        Variant::Radius { store: false } | Variant::ByMember { store: false }
    );
    let (mut frommember, mut fromloc, mut byradius, mut bybox) = (false, false, false, false);
    let mut order = Order::None;
    let rest = &args[base..];
    let remaining = rest.len();
    let mut i = 0;
    while i < remaining {
        let arg = rest[i];
        if is(arg, "withdist") {
            opts.withdist = true;
        } else if is(arg, "withhash") {
            opts.withhash = true;
        } else if is(arg, "withcoord") {
            opts.withcoord = true;
        } else if is(arg, "any") {
            opts.any = true;
        } else if is(arg, "asc") {
            order = Order::Asc;
        } else if is(arg, "desc") {
            order = Order::Desc;
        } else if is(arg, "count") && i + 1 < remaining {
            opts.count = int_arg(rest[i + 1])?;
            if opts.count <= 0 {
                return Err(Reply::error("ERR COUNT must be > 0"));
            }
            i += 1;
        } else if (is(arg, "store") || is(arg, "storedist"))
            && i + 1 < remaining
            && !nostore
            && !search
        {
            opts.store = Some(rest[i + 1]);
            opts.storedist = is(arg, "storedist");
            i += 1;
        } else if is(arg, "storedist") && search && search_store {
            opts.storedist = true;
        } else if is(arg, "frommember") && i + 1 < remaining && search && !fromloc {
            // Without a source key the point is not needed: the reply is empty.
            if let Some(z) = z {
                centre = Some(member_point(z, rest[i + 1])?);
            }
            frommember = true;
            i += 1;
        } else if is(arg, "fromlonlat") && i + 2 < remaining && search && !frommember {
            centre = Some(lon_lat_arg(&rest[i + 1..i + 3])?);
            fromloc = true;
            i += 2;
        } else if is(arg, "byradius") && i + 2 < remaining && search && !bybox {
            size = Some(radius_arg(&rest[i + 1..i + 3])?);
            byradius = true;
            i += 2;
        } else if is(arg, "bybox") && i + 3 < remaining && search && !byradius {
            size = Some(box_arg(&rest[i + 1..i + 4])?);
            bybox = true;
            i += 3;
        } else {
            return Err(syntax_error());
        }
        i += 1;
    }
    if opts.store.is_some() && (opts.withdist || opts.withhash || opts.withcoord) {
        return Err(Reply::error_owned(format!(
            "ERR {} is not compatible with WITHDIST, WITHHASH and WITHCOORD options",
            if search_store {
                "GEOSEARCHSTORE"
            } else {
                "STORE option in GEORADIUS"
            }
        )));
    }
    let name = || String::from_utf8_lossy(super::table::c_string(args[0], usize::MAX)).into_owned();
    if search && !(frommember || fromloc) {
        return Err(Reply::error_owned(format!(
            "ERR exactly one of FROMMEMBER or FROMLONLAT can be specified for {}",
            name()
        )));
    }
    if search && !(byradius || bybox) {
        return Err(Reply::error_owned(format!(
            "ERR exactly one of BYRADIUS and BYBOX can be specified for {}",
            name()
        )));
    }
    if opts.any && opts.count == 0 {
        return Err(Reply::error("ERR the ANY argument requires COUNT argument"));
    }
    let (Some(z), Some((lon, lat)), Some((kind, conversion))) = (z, centre, size) else {
        // No source key.
        return Ok(match opts.store {
            Some(dst) => Outcome::Store {
                dst,
                points: Vec::new(),
                storedist: false,
            },
            None => Outcome::Reply(Reply::Array(Vec::new())),
        });
    };
    if opts.count != 0 && order == Order::None && !opts.any {
        order = Order::Asc;
    }
    let shape = Shape {
        lon,
        lat,
        conversion,
        kind,
    };
    let limit = opts.any.then_some(opts.count as usize);
    let mut points = geo::search(z, &shape, limit);
    let returned = match usize::try_from(opts.count) {
        Ok(count) if count > 0 => count.min(points.len()),
        _ => points.len(),
    };
    // Redis's `sort_gp_asc` / `sort_gp_desc`.
    let mut by_distance = |a: &Point, b: &Point| {
        let ord = if a.dist > b.dist {
            std::cmp::Ordering::Greater
        } else if a.dist == b.dist {
            std::cmp::Ordering::Equal
        } else {
            std::cmp::Ordering::Less
        };
        if order == Order::Desc {
            ord.reverse()
        } else {
            ord
        }
    };
    if order != Order::None {
        if returned == points.len() {
            // glibc's qsort is a stable merge sort: ties keep the order found.
            points.sort_by(&mut by_distance);
        } else {
            pqsort(&mut points, &mut by_distance, 0, returned - 1);
        }
    }
    points.truncate(returned);
    for p in &mut points {
        p.dist /= conversion;
    }
    if let Some(dst) = opts.store {
        return Ok(Outcome::Store {
            dst,
            points,
            storedist: opts.storedist,
        });
    }
    let with = opts.withdist || opts.withhash || opts.withcoord;
    let items = points
        .into_iter()
        .map(|p| {
            let member = Reply::Bulk(Bytes::from(p.member));
            if !with {
                return member;
            }
            let mut item = vec![member];
            if opts.withdist {
                item.push(Reply::Bulk(distance_text(p.dist)));
            }
            if opts.withhash {
                // C's double → long long conversion of the score.
                item.push(Reply::Integer(p.score as i64));
            }
            if opts.withcoord {
                item.push(Reply::Array(vec![coordinate(p.lon), coordinate(p.lat)]));
            }
            Reply::Array(item)
        })
        .collect();
    Ok(Outcome::Reply(Reply::Array(items)))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn distances_have_four_decimals_as_fixedpoint_d2string() {
        let text = |d| String::from_utf8(distance_text(d).to_vec()).unwrap();
        assert_eq!(text(0.0), "0.0000");
        assert_eq!(text(0.775), "0.7750");
        assert_eq!(text(0.0005), "0.0005");
        assert_eq!(text(1.2345), "1.2345");
        assert_eq!(text(166274.15156960033), "166274.1516");
        assert_eq!(text(-3.5), "-3.5000");
    }
}
