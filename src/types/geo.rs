//! Geospatial indexes: the arithmetic of Redis's geohash.c,
//! geohash_helper.c and the search half of geo.c.
//!
//! A geo set is an ordinary sorted set whose scores are 52-bit geohashes:
//! longitude and latitude each cut into 2^26 steps (latitude only over
//! Web Mercator's ±85.05112878) and their bits interleaved. Everything here
//! follows Redis's functions operation for operation, in double precision
//! and through the same libm calls, because users see the results: the
//! scores GEOADD stores, the boxes a search scans (and so which members
//! come back, and in which order when distances tie), the distances.

use std::cmp::Ordering;

use crate::types::zset::{Range, ScoreRange, ZSet};

pub const LAT_MIN: f64 = -85.05112878;
pub const LAT_MAX: f64 = 85.05112878;
pub const LONG_MIN: f64 = -180.0;
pub const LONG_MAX: f64 = 180.0;
/// 26 steps a coordinate: 52 bits of score.
const STEP_MAX: u8 = 26;

/// Redis's `D_R` (geohash_helper.c), not its more precise `DEG_TO_RAD`.
const D_R: f64 = std::f64::consts::PI / 180.0;
/// Earth's quadratic mean radius for WGS-84, as Redis has it.
const EARTH_RADIUS_IN_METERS: f64 = 6372797.560856;
const MERCATOR_MAX: f64 = 20037726.37;

fn deg_rad(ang: f64) -> f64 {
    ang * D_R
}

fn rad_deg(ang: f64) -> f64 {
    ang / D_R
}

/// A geohash of `step` bits per coordinate (`GeoHashBits`); all zero is
/// Redis's "no box" (`GZERO`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub struct Hash {
    pub bits: u64,
    pub step: u8,
}

impl Hash {
    fn is_zero(self) -> bool {
        self.bits == 0 && self.step == 0
    }

    /// Redis `geohashAlign52Bits`: the hash as a 52-bit score prefix.
    fn align52(self) -> u64 {
        self.bits << (52 - u32::from(self.step) * 2)
    }
}

/// A closed interval of one coordinate.
#[derive(Clone, Copy, Debug)]
struct Interval {
    min: f64,
    max: f64,
}

/// The cell a hash stands for (`GeoHashArea`).
#[derive(Clone, Copy, Debug)]
struct Area {
    longitude: Interval,
    latitude: Interval,
}

const WGS84_LONG: Interval = Interval {
    min: LONG_MIN,
    max: LONG_MAX,
};
const WGS84_LAT: Interval = Interval {
    min: LAT_MIN,
    max: LAT_MAX,
};

/// Spreads the 32 bits of `x` to the even bits and `y` to the odd ones
/// (Redis `interleave64`).
fn interleave64(x: u32, y: u32) -> u64 {
    const B: [u64; 5] = [
        0x5555555555555555,
        0x3333333333333333,
        0x0F0F0F0F0F0F0F0F,
        0x00FF00FF00FF00FF,
        0x0000FFFF0000FFFF,
    ];
    const S: [u32; 5] = [1, 2, 4, 8, 16];
    let (mut x, mut y) = (u64::from(x), u64::from(y));
    for i in (0..5).rev() {
        x = (x | (x << S[i])) & B[i];
        y = (y | (y << S[i])) & B[i];
    }
    x | (y << 1)
}

/// The inverse of [`interleave64`]: even bits in the low half, odd bits in the high.
fn deinterleave64(interleaved: u64) -> u64 {
    const B: [u64; 6] = [
        0x5555555555555555,
        0x3333333333333333,
        0x0F0F0F0F0F0F0F0F,
        0x00FF00FF00FF00FF,
        0x0000FFFF0000FFFF,
        0x00000000FFFFFFFF,
    ];
    const S: [u32; 6] = [0, 1, 2, 4, 8, 16];
    let (mut x, mut y) = (interleaved, interleaved >> 1);
    for i in 0..6 {
        x = (x | (x >> S[i])) & B[i];
        y = (y | (y >> S[i])) & B[i];
    }
    x | (y << 32)
}

/// Redis `geohashEncode`: None outside the WGS84/Mercator limits or the given ranges.
fn encode(long_range: Interval, lat_range: Interval, lon: f64, lat: f64, step: u8) -> Option<Hash> {
    let outside = |v: f64, r: Interval| v < r.min || v > r.max;
    if outside(lon, WGS84_LONG) || outside(lat, WGS84_LAT) {
        return None;
    }
    if outside(lat, lat_range) || outside(lon, long_range) {
        return None;
    }
    let scale = (1u64 << step) as f64;
    let lat_offset = (lat - lat_range.min) / (lat_range.max - lat_range.min) * scale;
    let long_offset = (lon - long_range.min) / (long_range.max - long_range.min) * scale;
    // C's double → uint32_t conversion; the offsets are within 0..=2^26.
    Some(Hash {
        bits: interleave64(lat_offset as u32, long_offset as u32),
        step,
    })
}

/// GEOADD's score for a point checked by [`valid_lon_lat`].
pub fn score_of(lon: f64, lat: f64) -> Option<u64> {
    encode(WGS84_LONG, WGS84_LAT, lon, lat, STEP_MAX).map(Hash::align52)
}

/// Whether Redis's `extractLongLatOrReply` accepts the pair.
pub fn valid_lon_lat(lon: f64, lat: f64) -> bool {
    (LONG_MIN..=LONG_MAX).contains(&lon) && (LAT_MIN..=LAT_MAX).contains(&lat)
}

/// Redis `geohashDecode` over the WGS84 ranges: None for the zero hash.
fn decode(hash: Hash) -> Option<Area> {
    if hash.is_zero() {
        return None;
    }
    let sep = deinterleave64(hash.bits);
    let lat_scale = WGS84_LAT.max - WGS84_LAT.min;
    let long_scale = WGS84_LONG.max - WGS84_LONG.min;
    let ilato = sep as u32;
    let ilono = (sep >> 32) as u32;
    let cells = (1u64 << hash.step) as f64;
    let edge = |i: u32, min: f64, scale: f64| min + (f64::from(i) / cells) * scale;
    // `ilato + 1` is C unsigned arithmetic: it wraps at 2^32 (never reached with 26 steps).
    Some(Area {
        latitude: Interval {
            min: edge(ilato, WGS84_LAT.min, lat_scale),
            max: edge(ilato.wrapping_add(1), WGS84_LAT.min, lat_scale),
        },
        longitude: Interval {
            min: edge(ilono, WGS84_LONG.min, long_scale),
            max: edge(ilono.wrapping_add(1), WGS84_LONG.min, long_scale),
        },
    })
}

/// Redis `decodeGeohash`: the centre of a score's 26-step cell, clamped to
/// the limits, as (longitude, latitude).
pub fn decode_score(score: f64) -> Option<(f64, f64)> {
    let area = decode(Hash {
        bits: c_double_to_u64(score),
        step: STEP_MAX,
    })?;
    let lon = ((area.longitude.min + area.longitude.max) / 2.0).clamp(LONG_MIN, LONG_MAX);
    let lat = ((area.latitude.min + area.latitude.max) / 2.0).clamp(LAT_MIN, LAT_MAX);
    Some((lon, lat))
}

/// C's `(uint64_t)` of a double as gcc compiles it on x86-64 (undefined
/// behaviour outside 0..2^64, but what Redis does with a score a plain ZADD
/// put in a geo set): below 2^63 through a signed conversion, so -5.0 wraps
/// to 2^64-5; from 2^63 on, offset by 2^63, and 0 past the range.
fn c_double_to_u64(d: f64) -> u64 {
    const TWO_63: f64 = (1u64 << 63) as f64;
    let signed = |v: f64| {
        if v.is_nan() || !(-TWO_63..TWO_63).contains(&v) {
            i64::MIN as u64
        } else {
            v as i64 as u64
        }
    };
    if d < TWO_63 {
        signed(d)
    } else {
        signed(d - TWO_63) ^ (1 << 63)
    }
}

/// GEOHASH's 11-character standard geohash of a score: decoded, then
/// encoded again over ±90° latitude, the last character always `0`.
pub fn geohash_string(score: f64) -> Option<[u8; 11]> {
    const ALPHABET: &[u8; 32] = b"0123456789bcdefghjkmnpqrstuvwxyz";
    let (lon, lat) = decode_score(score)?;
    let long_range = Interval {
        min: -180.0,
        max: 180.0,
    };
    let lat_range = Interval {
        min: -90.0,
        max: 90.0,
    };
    // Redis ignores a failed encode and reads the zeroed hash.
    let bits = encode(long_range, lat_range, lon, lat, 26).map_or(0, |h| h.bits);
    let mut out = [b'0'; 11];
    for (i, c) in out.iter_mut().take(10).enumerate() {
        let idx = (bits >> (52 - (i + 1) * 5)) & 0x1f;
        *c = ALPHABET[idx as usize];
    }
    Some(out)
}

/// Redis `geohash_move_x` / `geohash_move_y`: the next cell east/west
/// (`odd` false: the longitude bits) or north/south (`odd` true).
fn moved(hash: Hash, d: i8, odd: bool) -> Hash {
    if d == 0 {
        return hash;
    }
    const EVEN: u64 = 0x5555555555555555;
    const ODD: u64 = 0xaaaaaaaaaaaaaaaa;
    let (mine, other) = if odd { (EVEN, ODD) } else { (ODD, EVEN) };
    let shift = 64 - u32::from(hash.step) * 2;
    let mut x = hash.bits & mine;
    let y = hash.bits & other;
    let zz = other.checked_shr(shift).unwrap_or(0);
    if d > 0 {
        x = x.wrapping_add(zz.wrapping_add(1));
    } else {
        x |= zz;
        x = x.wrapping_sub(zz.wrapping_add(1));
    }
    x &= mine.checked_shr(shift).unwrap_or(0);
    Hash {
        bits: x | y,
        step: hash.step,
    }
}

/// One neighbour of `hash`: `dx` east (+1) or west, `dy` north (+1) or south.
fn neighbour(hash: Hash, dx: i8, dy: i8) -> Hash {
    moved(moved(hash, dx, false), dy, true)
}

/// What a search covers (`GeoShape`): a circle or an axis-aligned box
/// around a point, its sizes in the command's unit (`conversion` to metres).
#[derive(Clone, Copy, Debug)]
pub struct Shape {
    pub lon: f64,
    pub lat: f64,
    pub conversion: f64,
    pub kind: ShapeKind,
}

#[derive(Clone, Copy, Debug)]
pub enum ShapeKind {
    Radius(f64),
    Box { width: f64, height: f64 },
}

/// Redis `geohashEstimateStepsByRadius`.
fn estimate_steps(mut range_meters: f64, lat: f64) -> u8 {
    if range_meters == 0.0 {
        return 26;
    }
    let mut step: i32 = 1;
    while range_meters < MERCATOR_MAX {
        range_meters *= 2.0;
        step += 1;
    }
    step -= 2;
    if !(-66.0..=66.0).contains(&lat) {
        step -= 1;
        if !(-80.0..=80.0).contains(&lat) {
            step -= 1;
        }
    }
    step.clamp(1, 26) as u8
}

impl Shape {
    /// Redis `geohashBoundingBox`: min lon, min lat, max lon, max lat.
    fn bounding_box(&self) -> [f64; 4] {
        let (height, width) = match self.kind {
            ShapeKind::Radius(r) => (self.conversion * r, self.conversion * r),
            ShapeKind::Box { width, height } => (
                self.conversion * (height / 2.0),
                self.conversion * (width / 2.0),
            ),
        };
        let lat_delta = rad_deg(height / EARTH_RADIUS_IN_METERS);
        let long_delta_top =
            rad_deg(width / EARTH_RADIUS_IN_METERS / deg_rad(self.lat + lat_delta).cos());
        let long_delta_bottom =
            rad_deg(width / EARTH_RADIUS_IN_METERS / deg_rad(self.lat - lat_delta).cos());
        let long_delta = if self.lat < 0.0 {
            long_delta_bottom
        } else {
            long_delta_top
        };
        [
            self.lon - long_delta,
            self.lat - lat_delta,
            self.lon + long_delta,
            self.lat + lat_delta,
        ]
    }

    /// Redis `geohashCalculateAreasByShapeWGS84`: the cell around the
    /// centre and its eight neighbours (zero where a cell cannot hold a
    /// match), in the order `membersOfAllNeighbors` scans them.
    fn search_cells(&self) -> [Hash; 9] {
        let [min_lon, min_lat, max_lon, max_lat] = self.bounding_box();
        let radius_meters = match self.kind {
            ShapeKind::Radius(r) => r,
            ShapeKind::Box { width, height } => {
                ((width / 2.0) * (width / 2.0) + (height / 2.0) * (height / 2.0)).sqrt()
            }
        } * self.conversion;
        let mut steps = estimate_steps(radius_meters, self.lat);
        let cells = |steps| {
            let hash = encode(WGS84_LONG, WGS84_LAT, self.lon, self.lat, steps).unwrap_or(Hash {
                bits: 0,
                step: steps,
            });
            let area = decode(hash);
            (hash, area)
        };
        let (mut hash, mut area) = cells(steps);
        // When a neighbour does not reach the bounding box the step is too
        // fine (Redis's comparisons as written: a NaN bound decreases nothing).
        let short = |h: Hash, test: fn(&Area, [f64; 4]) -> bool| {
            decode(h).is_some_and(|a| test(&a, [min_lon, min_lat, max_lon, max_lat]))
        };
        let decrease = short(neighbour(hash, 0, 1), |a, b| a.latitude.max < b[3])
            || short(neighbour(hash, 0, -1), |a, b| a.latitude.min > b[1])
            || short(neighbour(hash, 1, 0), |a, b| a.longitude.max < b[2])
            || short(neighbour(hash, -1, 0), |a, b| a.longitude.min > b[0]);
        if steps > 1 && decrease {
            steps -= 1;
            (hash, area) = cells(steps);
        }
        let mut out = [
            hash,
            neighbour(hash, 0, 1),
            neighbour(hash, 0, -1),
            neighbour(hash, 1, 0),
            neighbour(hash, -1, 0),
            neighbour(hash, 1, 1),
            neighbour(hash, -1, 1),
            neighbour(hash, 1, -1),
            neighbour(hash, -1, -1),
        ];
        // Redis's north, south, east, west, NE, NW, SE, SW slots.
        const SOUTH: [usize; 3] = [2, 8, 7];
        const NORTH: [usize; 3] = [1, 5, 6];
        const WEST: [usize; 3] = [4, 8, 6];
        const EAST: [usize; 3] = [3, 7, 5];
        if steps >= 2 {
            if let Some(area) = area {
                let mut zero =
                    |slots: [usize; 3]| slots.iter().for_each(|&i| out[i] = Hash::default());
                if area.latitude.min < min_lat {
                    zero(SOUTH);
                }
                if area.latitude.max > max_lat {
                    zero(NORTH);
                }
                if area.longitude.min < min_lon {
                    zero(WEST);
                }
                if area.longitude.max > max_lon {
                    zero(EAST);
                }
            }
        }
        out
    }

    /// Redis `geoWithinShape`: the distance in metres from the centre to a
    /// member at `(lon, lat)` when it lies inside.
    fn distance_if_within(&self, lon: f64, lat: f64) -> Option<f64> {
        match self.kind {
            ShapeKind::Radius(r) => {
                let d = distance(self.lon, self.lat, lon, lat);
                // `!(d > r)`, as Redis tests it (NaN passes).
                let outside = d.partial_cmp(&(r * self.conversion)) == Some(Ordering::Greater);
                (!outside).then_some(d)
            }
            ShapeKind::Box { width, height } => {
                let (width_m, height_m) = (width * self.conversion, height * self.conversion);
                if lat_distance(lat, self.lat) > height_m / 2.0 {
                    return None;
                }
                if distance(lon, lat, self.lon, lat) > width_m / 2.0 {
                    return None;
                }
                Some(distance(self.lon, self.lat, lon, lat))
            }
        }
    }
}

/// Redis `geohashGetLatDistance`.
fn lat_distance(lat1d: f64, lat2d: f64) -> f64 {
    EARTH_RADIUS_IN_METERS * (deg_rad(lat2d) - deg_rad(lat1d)).abs()
}

/// Redis `geohashGetDistance`: haversine, in metres.
pub fn distance(lon1d: f64, lat1d: f64, lon2d: f64, lat2d: f64) -> f64 {
    let lon1r = deg_rad(lon1d);
    let lon2r = deg_rad(lon2d);
    let v = ((lon2r - lon1r) / 2.0).sin();
    if v == 0.0 {
        return lat_distance(lat1d, lat2d);
    }
    let lat1r = deg_rad(lat1d);
    let lat2r = deg_rad(lat2d);
    let u = ((lat2r - lat1r) / 2.0).sin();
    let a = u * u + lat1r.cos() * lat2r.cos() * v * v;
    2.0 * EARTH_RADIUS_IN_METERS * a.sqrt().asin()
}

/// One match of a search (`geoPoint`); `dist` in metres.
#[derive(Clone, Debug)]
pub struct Point {
    pub member: Vec<u8>,
    pub lon: f64,
    pub lat: f64,
    pub dist: f64,
    pub score: f64,
}

/// Redis `membersOfAllNeighbors`: the members of `z` inside `shape`, cell
/// by cell in Redis's order, each cell in score order. With `limit` (COUNT
/// ANY) it stops once that many are found.
pub fn search(z: &ZSet, shape: &Shape, limit: Option<usize>) -> Vec<Point> {
    let cells = shape.search_cells();
    let mut found = Vec::new();
    let full = |found: &Vec<Point>| limit.is_some_and(|l| !found.is_empty() && found.len() >= l);
    // Redis compares with the last cell it scanned, but its "none yet"
    // marker is index 0, so the centre cell never counts as scanned.
    let mut last: Option<usize> = None;
    for (i, &cell) in cells.iter().enumerate() {
        if cell.is_zero() {
            continue;
        }
        if last.is_some_and(|l| cells[l] == cell) {
            continue;
        }
        if full(&found) {
            break;
        }
        cell_members(z, cell, shape, &mut found, limit);
        last = (i > 0).then_some(i);
    }
    found
}

/// Redis `membersOfGeoHashBox` / `geoGetPointsInRange`: the scores from the
/// cell's prefix (included) to the next prefix (excluded).
fn cell_members(z: &ZSet, cell: Hash, shape: &Shape, found: &mut Vec<Point>, limit: Option<usize>) {
    let range = ScoreRange {
        min: cell.align52() as f64,
        max: Hash {
            bits: cell.bits + 1,
            step: cell.step,
        }
        .align52() as f64,
        min_ex: false,
        max_ex: true,
    };
    let Some(first) = z.first_in_range(&range) else {
        return;
    };
    for (member, score) in z.iter_from(first, false) {
        if !range.lte_max(member, score) {
            break;
        }
        if let Some((lon, lat)) = decode_score(score) {
            if let Some(dist) = shape.distance_if_within(lon, lat) {
                found.push(Point {
                    member: member.to_vec(),
                    lon,
                    lat,
                    dist,
                    score,
                });
            }
        }
        if limit.is_some_and(|l| !found.is_empty() && found.len() >= l) {
            break;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn interleaving_round_trips() {
        for (x, y) in [
            (0u32, 0u32),
            (1, 0),
            (0, 1),
            (0x3ffffff, 0x1234567),
            (u32::MAX, 7),
        ] {
            let sep = deinterleave64(interleave64(x, y));
            assert_eq!((sep as u32, (sep >> 32) as u32), (x, y));
        }
    }

    #[test]
    fn scores_and_geohashes_match_redis() {
        // GEOADD Sicily 13.361389 38.115556 "Palermo" in Redis 7.0.
        let score = score_of(13.361389, 38.115556).unwrap();
        assert_eq!(score, 3479099956230698);
        assert_eq!(&geohash_string(score as f64).unwrap(), b"sqc8b49rny0");
    }
}
