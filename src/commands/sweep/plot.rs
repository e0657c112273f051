//! The SVG plot of a sweep: one line per strategy, a legend, a title, and axis labels with
//! units.

use super::{Points, Row, series, series_name};

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

fn metric_unit(metric: &str) -> &'static str {
    if metric.ends_with("bytes_per_sec") {
        "bytes/s"
    } else if metric.ends_with("_bytes") || metric.ends_with("per_payload_byte") {
        "bytes"
    } else if metric.ends_with("_ns") {
        "ns"
    } else if metric.starts_with("utilization") {
        "fraction of time"
    } else {
        "count"
    }
}

/// An SVG line plot: one line per strategy, a legend, a title, and axis labels with units.
pub fn plot(
    points: &Points,
    metric: &str,
    target: &str,
    rows: &[Row],
    path: &str,
) -> Result<(), String> {
    use plotters::prelude::*;
    let keys = series(rows);
    let many = keys.iter().any(|k| k.0 != keys[0].0);
    let (x0, x1) = points
        .xs
        .iter()
        .fold((f64::MAX, f64::MIN), |(a, b), x| (a.min(*x), b.max(*x)));
    let y1 = rows.iter().map(|r| r.metric).fold(0.0f64, f64::max) * 1.08 + f64::MIN_POSITIVE;
    let root = SVGBackend::new(path, (900, 560)).into_drawing_area();
    root.fill(&WHITE).map_err(|e| e.to_string())?;
    let title = format!("{metric} vs {} on {target}", points.param);
    let x_label = if points.unit.is_empty() {
        points.param.clone()
    } else {
        format!("{} ({})", points.param, points.unit)
    };
    let y_label = format!("{metric} ({})", metric_unit(metric));
    let palette = [&RED, &BLUE, &GREEN, &MAGENTA, &CYAN, &BLACK];
    macro_rules! draw {
        ($chart:expr) => {{
            let mut chart = $chart;
            chart
                .configure_mesh()
                .x_desc(x_label.as_str())
                .y_desc(y_label.as_str())
                .x_label_formatter(&|x| si(*x))
                .y_label_formatter(&|y| si(*y))
                .draw()
                .map_err(|e| e.to_string())?;
            for (i, k) in keys.iter().enumerate() {
                let color = palette[i % palette.len()].stroke_width(2);
                let pts: Vec<(f64, f64)> = rows
                    .iter()
                    .filter(|r| r.name == k.0 && r.strategy == k.1)
                    .map(|r| (r.x, r.metric))
                    .collect();
                let legend_color = palette[i % palette.len()];
                chart
                    .draw_series(LineSeries::new(pts, color))
                    .map_err(|e| e.to_string())?
                    .label(series_name(k, many))
                    .legend(move |(x, y)| {
                        PathElement::new(vec![(x, y), (x + 18, y)], legend_color)
                    });
            }
            chart
                .configure_series_labels()
                .background_style(WHITE.mix(0.8))
                .border_style(BLACK)
                .draw()
                .map_err(|e| e.to_string())?;
        }};
    }
    let mut builder = ChartBuilder::on(&root);
    builder
        .caption(title.as_str(), ("sans-serif", 22))
        .margin(16)
        .x_label_area_size(48)
        .y_label_area_size(90);
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
    root.present().map_err(|e| e.to_string())
}
