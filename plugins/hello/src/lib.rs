//! `example:hello`: typed commands covering every kind of WIT type (see `wit/hello.wit`).
//!
//! Every command is deterministic, so tests can pin the results.

// In a module of its own so that lints can be relaxed for the generated code: `echo-all` takes a
// record of 13 fields, which the canonical ABI flattens into that many parameters.
#[allow(clippy::too_many_arguments)]
mod bindings {
    ward_sdk::generate!({
        world: "example:hello/hello@0.1.0",
        path: ["../../wit", "wit"],
    });
}

use bindings::{Color, Guest, Permissions, Point, Primitives, Shape};

struct Hello;

impl Guest for Hello {
    fn greet(name: String) -> String {
        ward_sdk::log::info("greet called");
        format!("Hello, {name}!")
    }

    fn translate(p: Point, dx: i32, dy: i32) -> Point {
        Point {
            x: p.x.wrapping_add(dx),
            y: p.y.wrapping_add(dy),
        }
    }

    fn origin() -> Point {
        Point { x: 0, y: 0 }
    }

    fn centroid(points: Vec<Point>) -> Option<Point> {
        let n = i64::try_from(points.len()).ok().filter(|n| *n > 0)?;
        let (sx, sy) = points.iter().fold((0i64, 0i64), |(sx, sy), p| {
            (sx + i64::from(p.x), sy + i64::from(p.y))
        });
        // The mean of s32 values is always within the s32 range.
        Some(Point {
            x: i32::try_from(sx / n).ok()?,
            y: i32::try_from(sy / n).ok()?,
        })
    }

    fn next_color(c: Color) -> Color {
        match c {
            Color::Red => Color::Green,
            Color::Green => Color::Blue,
            Color::Blue => Color::Red,
        }
    }

    fn area(s: Shape) -> f64 {
        match s {
            Shape::Circle(r) => std::f64::consts::PI * r * r,
            Shape::Rect((w, h)) => w * h,
            Shape::None => 0.0,
        }
    }

    fn sum(values: Vec<u32>) -> u64 {
        values.iter().map(|v| u64::from(*v)).sum()
    }

    fn divide(a: i64, b: i64) -> Result<i64, String> {
        if b == 0 {
            return Err("division by zero".to_string());
        }
        a.checked_div(b)
            .ok_or_else(|| format!("{a} / {b} overflows s64"))
    }

    fn check_name(name: String) -> Result<(), String> {
        match name.chars().count() {
            0 => Err("name is empty".to_string()),
            1..=64 => Ok(()),
            n => Err(format!(
                "name is {n} characters long, at most 64 are allowed"
            )),
        }
    }

    fn maybe_double(n: Option<i32>) -> Option<i32> {
        n.map(|n| n.wrapping_mul(2))
    }

    fn merge_permissions(a: Permissions, b: Permissions) -> Permissions {
        a | b
    }

    fn swap(pair: (String, u32)) -> (u32, String) {
        (pair.1, pair.0)
    }

    fn upper(c: char) -> char {
        let mut upper = c.to_uppercase();
        match (upper.next(), upper.next()) {
            (Some(u), None) => u,
            _ => c,
        }
    }

    fn negate(b: bool) -> bool {
        !b
    }

    fn echo_all(all: Primitives) -> Primitives {
        all
    }

    fn noop() {}
}

bindings::export!(Hello with_types_in bindings);
