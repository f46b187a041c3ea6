//! LOLWUT version 5 (Redis's lolwut5.c): Georg Nees's "Schotter", rows of
//! squares more and more displaced and turned going down, drawn in Braille
//! characters of 2x4 dots.

use super::{integer, rand, Canvas};
use crate::protocol::Reply;
use crate::server::REDIS_VERSION;

/// LOLWUT 5 [columns [squares-per-row [squares-per-col]]], limited as Redis.
pub(super) fn command(args: &[&[u8]]) -> Result<String, Reply> {
    let mut sizes = [66i64, 8, 12];
    for (size, arg) in sizes.iter_mut().zip(args) {
        *size = integer(arg)?;
    }
    let cols = sizes[0].clamp(1, 1000) as i32;
    let per_row = sizes[1].clamp(1, 200) as i32;
    let per_col = sizes[2].clamp(1, 200) as i32;
    let canvas = schotter(cols, per_row, per_col);
    let mut text = render(&canvas);
    text.push_str("\nGeorg Nees - schotter, plotter on paper, 1968. Redis ver. ");
    text.push_str(REDIS_VERSION);
    text.push('\n');
    Ok(text)
}

/// Braille characters, each 2x4 pixels (lolwut5.c's `renderCanvas`).
fn render(canvas: &Canvas) -> String {
    let mut text = String::new();
    let mut y = 0;
    while y < canvas.height {
        let mut x = 0;
        while x < canvas.width {
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
                .filter(|(_, &(px, py))| canvas.pixel(px, py) != 0)
                .fold(0u32, |b, (i, _)| b | 1 << i);
            text.push(char::from_u32(0x2800 + byte).unwrap_or(' '));
            x += 2;
        }
        if y != canvas.height - 1 {
            text.push('\n');
        }
        y += 4;
    }
    text
}

/// `lwDrawSchotter`: from the third row on, each square is moved and
/// turned by random amounts growing with its row.
fn schotter(cols: i32, per_row: i32, per_col: i32) -> Canvas {
    let width = cols * 2;
    let padding = if width > 4 { 2 } else { 0 };
    let side = (width - padding * 2) as f32 / per_row as f32;
    let height = (side * per_col as f32 + (padding * 2) as f32) as i32;
    let mut canvas = Canvas::new(width, height, 0);
    // Redis's `(float)rand()/RAND_MAX` and `rand() % 2` signs.
    let random = || rand() as f32 / i32::MAX as f32;
    for y in 0..per_col {
        for x in 0..per_row {
            let mut sx = (x as f32 * side + side / 2.0 + padding as f32) as i32;
            let mut sy = (y as f32 * side + side / 2.0 + padding as f32) as i32;
            let mut angle = 0.0;
            if y > 1 {
                let scale = |r: f32| {
                    let r = r / per_col as f32 * y as f32;
                    if rand() % 2 == 0 {
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
            canvas.square(sx, sy, side, angle, 1);
        }
    }
    canvas
}
