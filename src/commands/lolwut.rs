//! LOLWUT [VERSION v] [...] (Redis's lolwut.c, lolwut5.c): computer art
//! for version 5 (Georg Nees's "Schotter" in Braille characters), the
//! version line for the others. Version 6's skyscrapers are not drawn yet:
//! `LOLWUT VERSION 6` answers the version line too.

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
    // 5.x but 5.9, and 4.9 (Redis's version string tests).
    let art = v[1] == b'.' && matches!((v[0], v[2] == b'9'), (b'5', false) | (b'4', true));
    let text = if art {
        schotter_command(rest)?
    } else {
        format!("Redis ver. {REDIS_VERSION}\n")
    };
    Ok(Reply::Verbatim("txt", text.into()))
}

/// LOLWUT 5 [columns [squares-per-row [squares-per-col]]], limited as Redis.
fn schotter_command(args: &[&[u8]]) -> Result<String, Reply> {
    let mut sizes = [66i64, 8, 12];
    for (size, arg) in sizes.iter_mut().zip(args) {
        *size = integer(arg)?;
    }
    let cols = sizes[0].clamp(1, 1000) as i32;
    let per_row = sizes[1].clamp(1, 200) as i32;
    let per_col = sizes[2].clamp(1, 200) as i32;
    let canvas = schotter(cols, per_row, per_col);
    let mut text = canvas.render();
    text.push_str("\nGeorg Nees - schotter, plotter on paper, 1968. Redis ver. ");
    text.push_str(REDIS_VERSION);
    text.push('\n');
    Ok(text)
}

/// A black and white picture, one byte a pixel (Redis's `lwCanvas`).
struct Canvas {
    width: i32,
    height: i32,
    pixels: Vec<u8>,
}

impl Canvas {
    fn new(width: i32, height: i32) -> Canvas {
        let size = (width.max(0) as usize) * (height.max(0) as usize);
        Canvas {
            width,
            height,
            pixels: vec![0; size],
        }
    }

    /// Drawing off the canvas does nothing.
    fn set(&mut self, x: i32, y: i32) {
        if x >= 0 && x < self.width && y >= 0 && y < self.height {
            self.pixels[(x + y * self.width) as usize] = 1;
        }
    }

    fn get(&self, x: i32, y: i32) -> bool {
        x >= 0
            && x < self.width
            && y >= 0
            && y < self.height
            && self.pixels[(x + y * self.width) as usize] != 0
    }

    /// Bresenham's line, as `lwDrawLine`.
    fn line(&mut self, (mut x1, mut y1): (i32, i32), (x2, y2): (i32, i32)) {
        let (dx, dy) = ((x2 - x1).abs(), (y2 - y1).abs());
        let sx = if x1 < x2 { 1 } else { -1 };
        let sy = if y1 < y2 { 1 } else { -1 };
        let mut err = dx - dy;
        loop {
            self.set(x1, y1);
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
    fn square(&mut self, x: i32, y: i32, size: f32, angle: f32) {
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
            self.line(points[j], points[(j + 1) % 4]);
        }
    }

    /// Braille characters, each 2x4 pixels (Redis's `renderCanvas`).
    fn render(&self) -> String {
        let mut text = String::new();
        let mut y = 0;
        while y < self.height {
            let mut x = 0;
            while x < self.width {
                let bits = [
                    (x, y),
                    (x, y + 1),
                    (x, y + 2),
                    (x + 1, y),
                    (x + 1, y + 1),
                    (x + 1, y + 2),
                    (x, y + 3),
                    (x + 1, y + 3),
                ];
                let byte = bits
                    .iter()
                    .enumerate()
                    .filter(|(_, &(px, py))| self.get(px, py))
                    .fold(0u32, |b, (i, _)| b | 1 << i);
                text.push(char::from_u32(0x2800 + byte).unwrap_or(' '));
                x += 2;
            }
            if y != self.height - 1 {
                text.push('\n');
            }
            y += 4;
        }
        text
    }
}

/// Georg Nees's Schotter: rows of squares, more and more displaced and
/// turned going down (`lwDrawSchotter`).
fn schotter(cols: i32, per_row: i32, per_col: i32) -> Canvas {
    let width = cols * 2;
    let padding = if width > 4 { 2 } else { 0 };
    let side = (width - padding * 2) as f32 / per_row as f32;
    let height = (side * per_col as f32 + (padding * 2) as f32) as i32;
    let mut canvas = Canvas::new(width, height);
    let random = || rand::random::<u32>() as f32 / u32::MAX as f32;
    for y in 0..per_col {
        for x in 0..per_row {
            let mut sx = (x as f32 * side + side / 2.0 + padding as f32) as i32;
            let mut sy = (y as f32 * side + side / 2.0 + padding as f32) as i32;
            let mut angle = 0.0;
            if y > 1 {
                let scale = |r: f32| {
                    let r = r / per_col as f32 * y as f32;
                    if rand::random::<bool>() {
                        -r
                    } else {
                        r
                    }
                };
                let (r1, r2, r3) = (scale(random()), scale(random()), scale(random()));
                angle = r1;
                sx = (sx as f32 + r2 * side / 3.0) as i32;
                sy = (sy as f32 + r3 * side / 3.0) as i32;
            }
            canvas.square(sx, sy, side, angle);
        }
    }
    canvas
}
