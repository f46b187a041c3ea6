//! LOLWUT version 6 (Redis's lolwut6.c): a city skyline as in the parallax
//! backgrounds of 8 bit games, two rows of grey skyscrapers behind a row
//! of black ones with lit windows, drawn in the four greys of a colour
//! terminal. Sizes, places and window colours come from `rand()`, as in
//! Redis, so only the picture's size, colours and captions are fixed.

use super::{integer, rand, Canvas};
use crate::protocol::Reply;
use crate::server::REDIS_VERSION;

/// The colours: black, two greys, white (the canvas's background).
const BLACK: u8 = 0;
const WHITE: u8 = 3;

/// LOLWUT 6 [columns [rows]], each limited to 1..=1000 as Redis.
pub(super) fn command(args: &[&[u8]]) -> Result<String, Reply> {
    let mut sizes = [80i64, 20];
    for (size, arg) in sizes.iter_mut().zip(args) {
        *size = integer(arg)?;
    }
    let [cols, rows] = sizes.map(|n| n.clamp(1, 1000) as i32);
    let mut canvas = Canvas::new(cols, rows, WHITE);
    skyline(&mut canvas);
    let mut text = render(&canvas);
    text.push_str(
        "\nDedicated to the 8 bit game developers of past and present.\n\
         Original 8 bit image from Plaguemon by hikikomori. Redis ver. ",
    );
    text.push_str(REDIS_VERSION);
    text.push('\n');
    Ok(text)
}

/// Each pixel a space with both foreground and background set (the same
/// look on every terminal), rows joined by newlines (`renderCanvas`).
fn render(canvas: &Canvas) -> String {
    let mut text = String::new();
    for y in 0..canvas.height {
        for x in 0..canvas.width {
            let escape = match canvas.pixel(x, y) {
                1 => "0;90;100m",
                2 => "0;37;47m",
                3 => "0;97;107m",
                _ => "0;30;40m",
            };
            text.push_str("\x1b[");
            text.push_str(escape);
            text.push_str(" \x1b[0m");
        }
        if y != canvas.height - 1 {
            text.push('\n');
        }
    }
    text
}

/// One skyscraper standing on the bottom row (`struct skyscraper`).
struct Skyscraper {
    xoff: i32,
    width: i32,
    height: i32,
    windows: bool,
    color: u8,
}

/// `generateSkyscraper`: the roof two pixels narrower on each side, and
/// windows two pixels wide, one tall, in a random grey, away from the edges.
fn skyscraper(canvas: &mut Canvas, s: &Skyscraper) {
    let starty = canvas.height - 1;
    let endy = starty - s.height + 1;
    for y in (endy..=starty).rev() {
        for x in s.xoff..s.xoff + s.width {
            if y == endy && (x <= s.xoff + 1 || x >= s.xoff + s.width - 2) {
                continue;
            }
            let mut color = s.color;
            let inner =
                x > s.xoff + 1 && x < s.xoff + s.width - 2 && y > endy + 1 && y < starty - 1;
            if s.windows && inner {
                let relx = x - (s.xoff + 1);
                let rely = y - (endy + 1);
                if (relx / 2) % 2 != 0 && rely % 2 != 0 {
                    loop {
                        color = 1 + (rand() % 2) as u8;
                        if color != s.color {
                            break;
                        }
                    }
                    // Both pixels of a window get the first one's colour.
                    if relx % 2 != 0 {
                        color = canvas.pixel(x - 1, y);
                    }
                }
            }
            canvas.draw(x, y, color);
        }
    }
}

/// `generateSkyline`: the light grey skyscrapers first, so they stay
/// behind the dark grey ones, then the black ones with windows in front.
fn skyline(canvas: &mut Canvas) {
    let (width, height) = (canvas.width, canvas.height);
    for color in [2, 1] {
        let mut offset = -10;
        while offset < width {
            offset += rand() % 8;
            let building_width = 10 + rand() % 9;
            let building_height = if color == 2 {
                height / 2 + (rand() % height) / 2
            } else {
                height / 2 + (rand() % height) / 3
            };
            let building = Skyscraper {
                xoff: offset,
                width: building_width,
                height: building_height,
                windows: false,
                color,
            };
            skyscraper(canvas, &building);
            offset += if color == 2 {
                building_width / 2
            } else {
                building_width + 1
            };
        }
    }
    let mut offset = -10;
    while offset < width {
        offset += rand() % 8;
        let mut building_width = 5 + rand() % 14;
        if building_width % 4 != 0 {
            building_width += building_width % 3;
        }
        let building = Skyscraper {
            xoff: offset,
            width: building_width,
            height: height / 3 + (rand() % height) / 2,
            windows: true,
            color: BLACK,
        };
        skyscraper(canvas, &building);
        offset += building_width + 5;
    }
}
