//! A plain `wasi:cli/run` program: prints its arguments (without argv\[0\]) joined by single
//! spaces, then a newline.

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    println!("{}", args.join(" "));
}
