//! The plot of a sweep (SVG, or PNG for a `.png` path), fit for a lecture slide: one line per strategy, each in its own
//! colour with its own marker (and every other one dashed), so no two series look alike even
//! printed in grey; the legend in a panel beside the chart, never over the data; a title in
//! words saying what was swept on which target; the y axis in the tables' units (KB/s or
//! MB/s, KB = 1024 bytes, as ttcp prints).

use plotters::prelude::*;

use super::{Points, Row, series, series_name};

/// Twelve colours that stay apart on screen and projector (Tableau 10, then two more).
pub const PALETTE: [RGBColor; 12] = [
    RGBColor(31, 119, 180),  // blue
    RGBColor(255, 127, 14),  // orange
    RGBColor(44, 160, 44),   // green
    RGBColor(214, 39, 40),   // red
    RGBColor(148, 103, 189), // purple
    RGBColor(140, 86, 75),   // brown
    RGBColor(227, 119, 194), // pink
    RGBColor(127, 127, 127), // grey
    RGBColor(188, 189, 34),  // olive
    RGBColor(23, 190, 207),  // cyan
    RGBColor(0, 0, 0),       // black
    RGBColor(0, 0, 128),     // navy
];

/// The marker drawn at every point of series `i`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Marker {
    Circle,
    Square,
    Triangle,
    Cross,
    Diamond,
}

const MARKERS: [Marker; 5] = [
    Marker::Circle,
    Marker::Square,
    Marker::Triangle,
    Marker::Cross,
    Marker::Diamond,
];

/// Series `i`'s look: colour, marker, and whether its line is dashed. Colours and markers
/// cycle with coprime periods (12 and 5), so the first 60 series all differ.
pub fn style(i: usize) -> (RGBColor, Marker, bool) {
    (
        PALETTE[i % PALETTE.len()],
        MARKERS[i % MARKERS.len()],
        i % 2 == 1,
    )
}

/// Draws marker `m` centred at pixel `at`.
fn draw_marker<DB: DrawingBackend>(
    area: &DrawingArea<DB, plotters::coord::Shift>,
    m: Marker,
    at: (i32, i32),
    c: RGBColor,
) -> Result<(), String> {
    let s = 5;
    let (x, y) = at;
    let e = |e: DrawingAreaErrorKind<DB::ErrorType>| e.to_string();
    match m {
        Marker::Circle => area.draw(&Circle::new((x, y), s, c.filled())).map_err(e),
        Marker::Square => area
            .draw(&Rectangle::new(
                [(x - s, y - s), (x + s, y + s)],
                c.filled(),
            ))
            .map_err(e),
        Marker::Triangle => area
            .draw(&Polygon::new(
                vec![(x, y - s - 1), (x - s - 1, y + s), (x + s + 1, y + s)],
                c.filled(),
            ))
            .map_err(e),
        Marker::Cross => {
            let st = c.stroke_width(2);
            area.draw(&PathElement::new(vec![(x - s, y - s), (x + s, y + s)], st))
                .map_err(e)?;
            area.draw(&PathElement::new(vec![(x - s, y + s), (x + s, y - s)], st))
                .map_err(e)
        }
        Marker::Diamond => area
            .draw(&Polygon::new(
                vec![
                    (x, y - s - 1),
                    (x + s + 1, y),
                    (x, y + s + 1),
                    (x - s - 1, y),
                ],
                c.filled(),
            ))
            .map_err(e),
    }
}

/// A tick label with an SI prefix: `12M`, `450k`, `0.25`.
fn si(x: f64) -> String {
    let a = x.abs();
    let (v, p) = if a >= 1e9 {
        (x / 1e9, "G")
    } else if a >= 1e6 {
        (x / 1e6, "M")
    } else if a >= 1e3 {
        (x / 1e3, "k")
    } else {
        (x, "")
    };
    let s = format!("{v:.2}");
    let s = s.trim_end_matches('0').trim_end_matches('.');
    format!("{s}{p}")
}

/// A y tick label: whole numbers as the tables print them (`11447`), SI prefixes past a
/// million, two decimals below ten.
fn plain(y: f64) -> String {
    if y.abs() >= 1e6 {
        si(y)
    } else if y.abs() >= 10.0 || y == 0.0 {
        format!("{y:.0}")
    } else {
        let s = format!("{y:.2}");
        s.trim_end_matches('0').trim_end_matches('.').to_owned()
    }
}

/// How the y axis shows the metric: a divisor and the unit's name. Throughput is in the
/// tables' KB/s (KB = 1024 bytes), or MB/s (1024 KB) when KB/s figures would pass 100,000.
pub fn y_scale(metric: &str, max: f64) -> (f64, &'static str) {
    if metric.ends_with("bytes_per_sec") {
        if max / 1024.0 >= 100_000.0 {
            (1024.0 * 1024.0, "MB/s, MB = 1024 KB")
        } else {
            (1024.0, "KB/s, KB = 1024 bytes")
        }
    } else if metric.ends_with("per_payload_byte") {
        (1.0, "bytes per payload byte")
    } else if metric.ends_with("_bytes") || metric.starts_with("breakdown.bus_bytes") {
        (1.0, "bytes")
    } else if metric.ends_with("_ns") || metric.starts_with("breakdown.cpu_ns") {
        (1e6, "ms")
    } else if metric.starts_with("utilization") {
        (0.01, "% of the run")
    } else {
        (1.0, "count")
    }
}

/// A report key in words: `throughput_bytes_per_sec` → "throughput", `copies.cpu_copy_bytes`
/// → "CPU copy bytes".
pub fn metric_words(metric: &str) -> String {
    match metric {
        "throughput_bytes_per_sec" => "throughput".into(),
        "bus_bytes_per_payload_byte" => "memory-bus bytes per payload byte".into(),
        m => {
            let last = m.rsplit('.').next().unwrap_or(m);
            let words = last.replace('_', " ").replace("cpu", "CPU");
            match m.split_once('.') {
                Some(("utilization", _)) => format!("{words} utilization"),
                Some(("breakdown", rest)) => format!(
                    "{} on {words}",
                    if rest.starts_with("cpu_ns") {
                        "CPU time"
                    } else {
                        "bus bytes"
                    }
                ),
                _ => words,
            }
        }
    }
}

/// A parameter path in words: `target.memory_bus` → "memory bus", `workload.write_size` →
/// "write size".
pub fn param_words(param: &str) -> String {
    let last = param.rsplit('.').next().unwrap_or(param);
    let words = last.replace('_', " ").replace("cpu", "CPU");
    match param.split_once('.') {
        Some(("workload", _)) => format!("workload {words}"),
        _ => words,
    }
}

/// The plot's title: what was measured, against what, on which target and workload.
pub fn title(points: &Points, metric: &str, target: &str, workloads: &[String]) -> String {
    let mut t = metric_words(metric);
    if let Some(first) = t.get(..1) {
        t = first.to_uppercase() + &t[1..];
    }
    let mut s = format!("{t} by {} on {target}", param_words(&points.param));
    if workloads.len() == 1 {
        s.push_str(&format!(" ({})", workloads[0]));
    }
    s
}

const WIDTH: u32 = 1040;
const HEIGHT: u32 = 600;
const LEGEND: u32 = 240;

/// Whether `path` asks for a PNG (else SVG).
pub fn is_png(path: &str) -> bool {
    std::path::Path::new(path)
        .extension()
        .is_some_and(|e| e.eq_ignore_ascii_case("png"))
}

/// A PNG has no fonts of its own: DejaVu Sans, compiled in, draws its text (and measures
/// the text of an SVG), so a plot looks the same on every machine.
fn register_font() -> Result<(), String> {
    static FONT: std::sync::OnceLock<Result<(), String>> = std::sync::OnceLock::new();
    FONT.get_or_init(|| {
        plotters::style::register_font(
            "sans-serif",
            plotters::style::FontStyle::Normal,
            dejavu::sans::regular(),
        )
        .map_err(|_| "the compiled-in font does not load".to_owned())
    })
    .clone()
}

/// A line plot of `rows` at `path`: PNG if the path ends in `.png`, else SVG.
pub fn plot(
    points: &Points,
    metric: &str,
    target: &str,
    rows: &[Row],
    path: &str,
) -> Result<(), String> {
    // Text is measured (and, in a PNG, drawn) with the compiled-in font, for SVG too.
    register_font()?;
    if is_png(path) {
        plot_on(
            BitMapBackend::new(path, (WIDTH, HEIGHT)).into_drawing_area(),
            points,
            metric,
            target,
            rows,
        )
    } else {
        plot_on(
            SVGBackend::new(path, (WIDTH, HEIGHT)).into_drawing_area(),
            points,
            metric,
            target,
            rows,
        )
    }
}

fn plot_on<DB: DrawingBackend>(
    root: DrawingArea<DB, plotters::coord::Shift>,
    points: &Points,
    metric: &str,
    target: &str,
    rows: &[Row],
) -> Result<(), String>
where
    DB::ErrorType: 'static,
{
    let keys = series(rows);
    let many = keys.iter().any(|k| k.0 != keys[0].0);
    let mut workloads: Vec<String> = Vec::new();
    for r in rows {
        if !workloads.contains(&r.workload.to_owned()) {
            workloads.push(r.workload.to_owned());
        }
    }
    let (x0, x1) = points
        .xs
        .iter()
        .fold((f64::MAX, f64::MIN), |(a, b), x| (a.min(*x), b.max(*x)));
    let max = rows.iter().map(|r| r.metric).fold(0.0f64, f64::max);
    let (div, unit) = y_scale(metric, max);
    let y1 = max / div * 1.08 + f64::MIN_POSITIVE;
    root.fill(&WHITE).map_err(|e| e.to_string())?;
    let (chart_area, legend_area) = root.split_horizontally(WIDTH - LEGEND);
    let x_label = if points.unit.is_empty() {
        format!("{} ({})", param_words(&points.param), points.param)
    } else {
        format!(
            "{} ({}, {})",
            param_words(&points.param),
            points.param,
            points.unit
        )
    };
    let y_label = format!("{} ({unit})", metric_words(metric));
    let title = title(points, metric, target, &workloads);
    // Each series' points, in pixels once the chart is built (for the markers).
    let mut pixels: Vec<Vec<(i32, i32)>> = Vec::new();
    macro_rules! draw {
        ($chart:expr) => {{
            let mut chart = $chart;
            chart
                .configure_mesh()
                .x_desc(x_label.as_str())
                .y_desc(y_label.as_str())
                .x_label_formatter(&|x| si(*x))
                .y_label_formatter(&|y| plain(*y))
                .light_line_style(RGBColor(235, 235, 235))
                .draw()
                .map_err(|e| e.to_string())?;
            for (i, k) in keys.iter().enumerate() {
                let (color, _, dashed) = style(i);
                let pts: Vec<(f64, f64)> = rows
                    .iter()
                    .filter(|r| r.name == k.0 && r.strategy == k.1)
                    .map(|r| (r.x, r.metric / div))
                    .collect();
                if dashed {
                    chart
                        .draw_series(DashedLineSeries::new(
                            pts.clone(),
                            9,
                            5,
                            color.stroke_width(2),
                        ))
                        .map_err(|e| e.to_string())?;
                } else {
                    chart
                        .draw_series(LineSeries::new(pts.clone(), color.stroke_width(2)))
                        .map_err(|e| e.to_string())?;
                }
                pixels.push(pts.iter().map(|p| chart.backend_coord(p)).collect());
            }
        }};
    }
    let mut builder = ChartBuilder::on(&chart_area);
    builder
        .caption(title.as_str(), ("sans-serif", 20))
        .margin(16)
        .x_label_area_size(48)
        .y_label_area_size(80);
    if points.log {
        draw!(
            builder
                .build_cartesian_2d((x0..x1).log_scale(), 0.0..y1)
                .map_err(|e| e.to_string())?
        );
    } else {
        draw!(
            builder
                .build_cartesian_2d(x0..x1, 0.0..y1)
                .map_err(|e| e.to_string())?
        );
    }
    for (i, pts) in pixels.iter().enumerate() {
        let (color, m, _) = style(i);
        for p in pts {
            draw_marker(&root, m, *p, color)?;
        }
    }
    // The legend, in its own panel right of the chart: a line sample with the marker, then
    // the name.
    let top = 60;
    for (i, k) in keys.iter().enumerate() {
        let (color, m, dashed) = style(i);
        let y = top + i as i32 * 24;
        let sample: Vec<(i32, i32)> = if dashed {
            vec![(8, y), (18, y), (22, y), (32, y)]
        } else {
            vec![(8, y), (32, y)]
        };
        for seg in sample.chunks(2) {
            legend_area
                .draw(&PathElement::new(seg.to_vec(), color.stroke_width(2)))
                .map_err(|e| e.to_string())?;
        }
        draw_marker(&legend_area, m, (20, y), color)?;
        legend_area
            .draw(&Text::new(
                series_name(k, many),
                (42, y - 8),
                ("sans-serif", 15).into_font(),
            ))
            .map_err(|e| e.to_string())?;
    }
    root.present().map_err(|e| e.to_string())
}

/// One bar of a comparison: its label and its two figures.
pub struct Bar {
    pub label: String,
    /// Position of the strategy in the catalogue, so a strategy keeps its colour.
    pub colour: usize,
    pub throughput_bytes_per_sec: f64,
    pub bus_bytes_per_payload_byte: f64,
}

/// The comparison's chart (PNG if `path` ends in `.png`, else SVG): throughput (left) and
/// memory-bus bytes per payload byte (right), a horizontal bar per run, labelled with its
/// strategy (and workload when there are several).
pub fn bars(title: &str, bars: &[Bar], path: &str) -> Result<(), String> {
    let height = (140 + 34 * bars.len().max(1) as u32).max(320);
    register_font()?;
    if is_png(path) {
        bars_on(
            BitMapBackend::new(path, (WIDTH, height)).into_drawing_area(),
            title,
            bars,
        )
    } else {
        bars_on(
            SVGBackend::new(path, (WIDTH, height)).into_drawing_area(),
            title,
            bars,
        )
    }
}

fn bars_on<DB: DrawingBackend>(
    root: DrawingArea<DB, plotters::coord::Shift>,
    title: &str,
    bars: &[Bar],
) -> Result<(), String>
where
    DB::ErrorType: 'static,
{
    let n = bars.len().max(1);
    root.fill(&WHITE).map_err(|e| e.to_string())?;
    let root = root
        .titled(title, ("sans-serif", 20))
        .map_err(|e| e.to_string())?;
    let (left, right) = root.split_horizontally(WIDTH * 11 / 20);
    let max_t = bars
        .iter()
        .map(|b| b.throughput_bytes_per_sec)
        .fold(0.0, f64::max);
    let (div, unit) = y_scale("throughput_bytes_per_sec", max_t);
    let max_b = bars
        .iter()
        .map(|b| b.bus_bytes_per_payload_byte)
        .fold(0.0, f64::max);
    let panels: [(&DrawingArea<_, _>, String, f64, bool); 2] = [
        (&left, format!("throughput ({unit})"), max_t / div, true),
        (
            &right,
            "memory-bus bytes per payload byte".to_owned(),
            max_b,
            false,
        ),
    ];
    for (area, desc, max, labels) in panels {
        let mut chart = ChartBuilder::on(area)
            .margin(12)
            .x_label_area_size(40)
            .y_label_area_size(if labels { 190 } else { 10 })
            .build_cartesian_2d(0.0..max * 1.12 + f64::MIN_POSITIVE, -0.5..n as f64 - 0.5)
            .map_err(|e| e.to_string())?;
        chart
            .configure_mesh()
            .disable_y_mesh()
            .x_desc(desc.as_str())
            .x_label_formatter(&|x| plain(*x))
            .y_labels(n)
            .y_label_formatter(&|y| {
                let i = y.round();
                if labels && (y - i).abs() < 1e-6 && i >= 0.0 {
                    bars.get(n - 1 - i as usize)
                        .map_or(String::new(), |b| b.label.clone())
                } else {
                    String::new()
                }
            })
            .draw()
            .map_err(|e| e.to_string())?;
        for (k, b) in bars.iter().enumerate() {
            let v = if labels {
                b.throughput_bytes_per_sec / div
            } else {
                b.bus_bytes_per_payload_byte
            };
            // The first bar on top.
            let y = (n - 1 - k) as f64;
            let c = PALETTE[b.colour % PALETTE.len()];
            chart
                .draw_series(std::iter::once(Rectangle::new(
                    [(0.0, y - 0.35), (v, y + 0.35)],
                    c.filled(),
                )))
                .map_err(|e| e.to_string())?;
            chart
                .draw_series(std::iter::once(Text::new(
                    if labels {
                        format!("{v:.0}")
                    } else {
                        format!("{v:.2}")
                    },
                    (v, y + 0.15),
                    ("sans-serif", 13).into_font(),
                )))
                .map_err(|e| e.to_string())?;
        }
    }
    root.present().map_err(|e| e.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn twelve_series_never_share_a_look() {
        // The old palette gave copy and mmap-loan the same red: every pair of the first 12
        // series (more than there are strategies) must differ in colour, and neighbours
        // differ in marker too.
        for i in 0..12 {
            for j in 0..i {
                assert_ne!(style(i).0, style(j).0, "{i} and {j} share a colour");
            }
            if i > 0 {
                assert_ne!(style(i).1, style(i - 1).1);
            }
        }
    }

    #[test]
    fn throughput_is_plotted_in_the_tables_units() {
        // The table prints KB/s with KB = 1024 bytes; the axis must use the same unit, and
        // switch to MB/s only where KB/s figures would grow past five digits.
        assert_eq!(y_scale("throughput_bytes_per_sec", 6_650_000.0).0, 1024.0);
        assert_eq!(y_scale("throughput_bytes_per_sec", 4e9).0, 1024.0 * 1024.0);
        assert_eq!(metric_words("copies.cpu_copy_bytes"), "CPU copy bytes");
        assert_eq!(param_words("target.memory_bus"), "memory bus");
    }
}
