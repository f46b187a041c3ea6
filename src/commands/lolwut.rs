//! LOLWUT [VERSION v] [...] (Redis's lolwut.c): computer art for version 5
//! (Georg Nees's "Schotter" in Braille characters, `lolwut/schotter.rs`)
//! and version 6 (a city skyline in terminal colours, `lolwut/skyline.rs`),
//! the version line for the others. Both pictures are random, as Redis's.

mod schotter;
mod skyline;

use super::args::is;
use super::{cmd, CmdResult, Ctx, Registration};
use crate::number::parse_i64;
use crate::protocol::Reply;
use crate::server::REDIS_VERSION;

pub static COMMANDS: &[Registration] = &[cmd("lolwut", lolwut)];

fn integer(arg: &[u8]) -> Result<i64, Reply> {
    parse_i64(arg).ok_or(Reply::error("ERR value is not an integer or out of range"))
}

fn lolwut(_ctx: &mut Ctx, args: &[&[u8]]) -> CmdResult {
    let mut version = REDIS_VERSION.to_string();
    let mut rest = &args[1..];
    if args.len() >= 3 && is(args[1], "VERSION") {
        // Redis prints the number as a C `unsigned int`.
        version = format!("{}.0.0", integer(args[2])? as u32);
        rest = &args[3..];
    }
    let v = version.as_bytes();
    // Redis's version string tests: 5.x but 5.9, and 4.9, draw version 5;
    // 6.x but 6.9, and 5.9, version 6.
    let nine = v[2] == b'9';
    let text = match (v[0], v[1] == b'.', nine) {
        (b'5', true, false) | (b'4', true, true) => schotter::command(rest)?,
        (b'6', true, false) | (b'5', true, true) => skyline::command(rest)?,
        _ => format!("Redis ver. {REDIS_VERSION}\n"),
    };
    Ok(Reply::Verbatim("txt", text.into()))
}

/// A picture of one byte a pixel, its colour (Redis's `lwCanvas`).
struct Canvas {
    width: i32,
    height: i32,
    pixels: Vec<u8>,
}

impl Canvas {
    fn new(width: i32, height: i32, background: u8) -> Canvas {
        let size = (width.max(0) as usize) * (height.max(0) as usize);
        Canvas {
            width,
            height,
            pixels: vec![background; size],
        }
    }

    fn index(&self, x: i32, y: i32) -> Option<usize> {
        (x >= 0 && x < self.width && y >= 0 && y < self.height)
            .then(|| (x + y * self.width) as usize)
    }

    /// Drawing off the canvas does nothing (`lwDrawPixel`).
    fn draw(&mut self, x: i32, y: i32, color: u8) {
        if let Some(i) = self.index(x, y) {
            self.pixels[i] = color;
        }
    }

    /// Off the canvas reads as colour 0 (`lwGetPixel`).
    fn pixel(&self, x: i32, y: i32) -> u8 {
        self.index(x, y).map_or(0, |i| self.pixels[i])
    }

    /// Bresenham's line, as `lwDrawLine`.
    fn line(&mut self, (mut x1, mut y1): (i32, i32), (x2, y2): (i32, i32), color: u8) {
        let (dx, dy) = ((x2 - x1).abs(), (y2 - y1).abs());
        let sx = if x1 < x2 { 1 } else { -1 };
        let sy = if y1 < y2 { 1 } else { -1 };
        let mut err = dx - dy;
        loop {
            self.draw(x1, y1, color);
            if x1 == x2 && y1 == y2 {
                break;
            }
            let e2 = err * 2;
            if e2 > -dy {
                err -= dy;
                x1 += sx;
            }
            if e2 < dx {
                err += dx;
                y1 += sy;
            }
        }
    }

    /// A square centred on x, y, turned by `angle` (`lwDrawSquare`, with
    /// its float and double steps).
    fn square(&mut self, x: i32, y: i32, size: f32, angle: f32, color: u8) {
        // Redis divides by its own double literal, then rounds in double.
        #[allow(clippy::approx_constant)]
        let size = (f64::from(size) / 1.414_213_562_3) as f32;
        let size = f64::from(size).round() as f32;
        let mut k = std::f32::consts::FRAC_PI_4 + angle;
        let mut points = [(0, 0); 4];
        for point in &mut points {
            let kd = f64::from(k);
            *point = (
                (kd.sin() * f64::from(size) + f64::from(x)).round() as i32,
                (kd.cos() * f64::from(size) + f64::from(y)).round() as i32,
            );
            k += std::f32::consts::FRAC_PI_2;
        }
        for j in 0..4 {
            self.line(points[j], points[(j + 1) % 4], color);
        }
    }
}

/// C's `rand()`: a non-negative `int` (0..=RAND_MAX, 2^31-1 in glibc), so
/// the pictures' `rand() % n` arithmetic reads as Redis's.
fn rand() -> i32 {
    (rand::random::<u32>() >> 1) as i32
}
