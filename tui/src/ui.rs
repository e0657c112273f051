//! Drawing. Reads the [`App`], never changes it.
//!
//! ```text
//! ┌ zcsim: bulk-send on embedded-100tx ─ [1 copy] [2 page-loan] ────────────────┐
//! │ cpu0        ██▒▒██████▒▒▒███                                                  │  timeline:
//! │ bus use     ▂▅▇█████▇▅▂                                                       │  a row per lane,
//! │ NIC DMA (tx)  ██  ██  ██                                                      │  the cursor a
//! │ wire        ██████████████                                                    │  bright column
//! │ events      · L · B ·                                                         │
//! │ 0 ns                      12.500 ms                                  25.000 ms│
//! ├ detail ─────────────────────────────┬ so far ───────────┬ frames ────────────┤
//! │ what the cursor's event is and why  │ copies, faults,   │ a cell per frame,  │
//! │ it cost what it cost                │ lookups, bytes    │ coloured by state  │
//! └─────────────────────────────────────┴───────────────────┴────────────────────┘
//!  ←/→ pan  +/- zoom  n/p event  N/P same kind  1-9 strategy  c compare  ? help  q quit
//! ```
//! Compare mode splits the timeline: the selected strategy above, the previous one below, on
//! the same time axis.

use models::world::{FrameState, TOTALS};
use ratatui::Frame;
use ratatui::buffer::Buffer;
use ratatui::layout::{Alignment, Constraint, Layout, Rect};
use ratatui::style::{Color, Modifier, Style};
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, Borders, Clear, Paragraph, Widget, Wrap};

use crate::action::{footer_fit, help_lines};
use crate::app::{App, Panel};
use crate::data::{RunView, Status};

/// Smallest terminal the layout fits.
pub const MIN_SIZE: (u16, u16) = (20, 8);

/// The colour of a span or instant kind.
pub fn kind_color(kind: &str) -> Color {
    match kind {
        "syscall" => Color::Yellow,
        "copy" => Color::Red,
        "checksum" => Color::Magenta,
        "zero" => Color::Gray,
        "fault" | "cow fault" | "loan break" => Color::LightRed,
        "vma_lookup" => Color::Cyan,
        "map_unmap" => Color::Blue,
        "loan" => Color::Green,
        "tlb" => Color::LightBlue,
        "protocol" => Color::White,
        "interrupt" => Color::LightYellow,
        "app" => Color::DarkGray,
        "dma" | "frame" | "disk" => Color::LightBlue,
        "lost" | "splat" | "loss" => Color::LightRed,
        "ack" => Color::Green,
        "completion" | "errqueue read" => Color::LightGreen,
        _ => Color::White,
    }
}

/// The lane of zero-copy completions and error-queue reads (`models::world` names it; the label fits the 12-column lane names).
const COMPLETION_LANE: &str = "completions";

fn instant_mark(kind: &str) -> char {
    match kind {
        "ack" => '·',
        "loss" => 'x',
        "loan" => 'L',
        "loan break" => 'B',
        "cow fault" => 'C',
        "splat" => '!',
        "completion" => 'Z',
        "errqueue read" => 'E',
        _ => '*',
    }
}

fn frame_color(s: FrameState) -> Color {
    match s {
        FrameState::Free => Color::DarkGray,
        FrameState::PageCache => Color::Blue,
        FrameState::Anon => Color::Gray,
        FrameState::CowShared => Color::Magenta,
        FrameState::Lent => Color::Green,
        FrameState::InFlight => Color::Yellow,
    }
}

/// Draws the whole screen.
pub fn draw(f: &mut Frame, app: &App) {
    let area = f.area();
    if area.width < MIN_SIZE.0 || area.height < MIN_SIZE.1 {
        let msg = Paragraph::new(format!(
            "terminal too small: {}x{}, needs {}x{}",
            area.width, area.height, MIN_SIZE.0, MIN_SIZE.1
        ))
        .wrap(Wrap { trim: true });
        f.render_widget(msg, area);
        return;
    }
    let panels_height = if area.height >= 22 {
        area.height / 3
    } else {
        0
    };
    let [header, body, panels, footer] = Layout::vertical([
        Constraint::Length(1),
        Constraint::Min(3),
        Constraint::Length(panels_height),
        Constraint::Length(1),
    ])
    .areas(area);
    f.render_widget(header_line(app), header);
    match app.compared() {
        Some(other) => {
            let [top, bottom] =
                Layout::vertical([Constraint::Percentage(50), Constraint::Percentage(50)])
                    .areas(body);
            f.render_widget(timeline(app, app.run(), true), top);
            f.render_widget(timeline(app, other, false), bottom);
        }
        None => f.render_widget(timeline(app, app.run(), true), body),
    }
    if panels.height > 0 {
        let [detail, totals, frames] = Layout::horizontal([
            Constraint::Percentage(50),
            Constraint::Percentage(22),
            Constraint::Percentage(28),
        ])
        .areas(panels);
        f.render_widget(detail_panel(app), detail);
        f.render_widget(totals_panel(app), totals);
        f.render_widget(
            FrameMap {
                states: &app.frames_at_cursor,
                focused: app.panel == Panel::Frames,
            },
            frames,
        );
    }
    f.render_widget(footer_line(app, footer.width), footer);
    if app.help {
        draw_help(f, area);
    }
}

fn header_line(app: &App) -> Line<'static> {
    let mut spans = vec![Span::styled(
        format!(" zcsim: {} ", app.title),
        Style::new().add_modifier(Modifier::BOLD),
    )];
    for (i, r) in app.runs.iter().enumerate() {
        let style = if i == app.selected {
            Style::new().add_modifier(Modifier::REVERSED)
        } else if app.compare && Some(i) == app.previous {
            Style::new().add_modifier(Modifier::UNDERLINED)
        } else {
            Style::new()
        };
        spans.push(Span::styled(format!("[{} {}]", i + 1, r.name), style));
        spans.push(Span::raw(" "));
    }
    if app.playing {
        spans.push(Span::styled(
            format!("▶ playing ×{} ", app.speed),
            Style::new().fg(Color::Green),
        ));
    } else if app.speed > 1 {
        spans.push(Span::raw(format!("×{} ", app.speed)));
    }
    spans.push(Span::styled(
        format!("]/[ → {}", app.jump_label()),
        Style::new().fg(Color::DarkGray),
    ));
    Line::from(spans)
}

/// The footer: the search being typed, a message, or the keys (as many as fit), after a
/// note of dropped records.
fn footer_line(app: &App, width: u16) -> Line<'static> {
    if let Some(q) = &app.search {
        return Line::from(vec![
            Span::styled(format!(" /{q}▏"), Style::new().fg(Color::Yellow)),
            Span::styled("  Enter find  Esc cancel", Style::new().fg(Color::DarkGray)),
        ]);
    }
    if let Some(m) = &app.message {
        return Line::styled(format!(" {m}"), Style::new().fg(Color::Yellow));
    }
    let dropped = app.run().dropped;
    let mut prefix = match app.run().status {
        Status::Done => String::new(),
        Status::Queued => " waiting to record |".to_owned(),
        Status::Recording { events, at } => format!(" recording… {events} events, t = {at} |"),
    };
    if dropped > 0 {
        prefix.push_str(&if width >= 100 {
            format!(" trace dropped its {dropped} oldest records |")
        } else {
            format!(" {dropped} dropped |")
        });
    }
    let room = (width as usize).saturating_sub(prefix.chars().count());
    Line::styled(
        format!("{prefix}{}", footer_fit(room)),
        Style::new().fg(Color::DarkGray),
    )
}

/// A run's lanes over the app's time window.
fn timeline<'a>(app: &'a App, run: &'a RunView, selected: bool) -> Timeline<'a> {
    Timeline {
        run,
        start: app.view_start,
        span: app.view_span,
        cursor: selected.then(|| app.cursor_time()),
        focused: selected && app.panel == Panel::Timeline,
    }
}

/// The timeline widget: a row per lane, spans coloured by kind, counters as bars.
pub struct Timeline<'a> {
    pub run: &'a RunView,
    pub start: u64,
    pub span: u64,
    pub cursor: Option<u64>,
    pub focused: bool,
}

const BARS: [char; 8] = ['▁', '▂', '▃', '▄', '▅', '▆', '▇', '█'];

impl Widget for Timeline<'_> {
    fn render(self, area: Rect, buf: &mut Buffer) {
        let border = if self.focused {
            Style::new().fg(Color::Cyan)
        } else {
            Style::new()
        };
        let block = Block::new()
            .borders(Borders::ALL)
            .border_style(border)
            .title(format!(" {} ", self.run.name));
        let inner = block.inner(area);
        block.render(area, buf);
        if inner.width < 4 || inner.height < 2 {
            return;
        }
        let label_w = (inner.width / 4).min(14);
        let cols = inner.width - label_w;
        let span = self.span.max(1);
        let col_of = |t: u64| -> u16 {
            let c = t.saturating_sub(self.start) as u128 * cols as u128 / span as u128;
            c.min(cols as u128) as u16
        };
        let col_start = |c: u16| self.start + (c as u128 * span as u128 / cols as u128) as u64;
        let rows = inner.height - 1; // the last row is the time axis
        let mut y = inner.y;
        let row = |name: &str, y: u16, buf: &mut Buffer| {
            let label: String = name.chars().take(label_w as usize - 1).collect();
            buf.set_string(inner.x, y, label, Style::new().fg(Color::Gray));
        };
        let end = self.start + span;
        for lane in &self.run.lanes {
            if y >= inner.y + rows {
                break;
            }
            row(&lane.name, y, buf);
            let x0 = inner.x + label_w;
            if lane.name == "memory bus" {
                // Overlapping transfers: show the bus's use as a level per column, coloured by
                // the activity that held the most bus time in that column.
                let mut owner: Vec<(u64, u16)> = vec![(0, u16::MAX); cols as usize];
                for s in lane.visible(self.start, end) {
                    let c0 = col_of(s.start);
                    let c1 = col_of(s.end).max(c0 + 1).min(cols);
                    for c in c0..c1 {
                        let lo = s.start.max(col_start(c));
                        let hi = s.end.min(col_start(c + 1)).max(lo + 1);
                        let slot = &mut owner[c as usize];
                        // Longest overlap wins; equal overlaps keep the first, in start order.
                        if hi - lo > slot.0 {
                            *slot = (hi - lo, s.kind);
                        }
                    }
                }
                for c in 0..cols {
                    let u = self.run.counter_mean(
                        "memory bus utilization",
                        col_start(c),
                        col_start(c + 1),
                    );
                    if u > 0.0 {
                        let ch = BARS[((u * 7.99) as usize).min(7)];
                        let kind = match owner[c as usize].1 {
                            u16::MAX => "",
                            k => self.run.events.kind_name(k),
                        };
                        buf[(x0 + c, y)].set_char(ch).set_fg(kind_color(kind));
                    }
                }
            } else if lane.name == "events" || lane.name == COMPLETION_LANE {
                // The events row marks every instant; the completion-queue row only its own.
                let ev = &self.run.events;
                let lo = ev.first_at(self.start);
                let hi = ev.first_at(end);
                let lanes = &self.run.lanes;
                let mine: Vec<bool> = lanes
                    .iter()
                    .map(|l| lane.name == "events" || l.name == lane.name)
                    .collect();
                for (t, l, kind) in ev.instants(lo..hi.max(lo)) {
                    if !mine.get(l).copied().unwrap_or(lane.name == "events") {
                        continue;
                    }
                    let kind = ev.kind_name(kind);
                    let c = col_of(t).min(cols - 1);
                    buf[(x0 + c, y)]
                        .set_char(instant_mark(kind))
                        .set_fg(kind_color(kind));
                }
            } else {
                for s in lane.visible(self.start, end) {
                    let c0 = col_of(s.start);
                    let c1 = col_of(s.end).max(c0 + 1).min(cols);
                    let color = kind_color(self.run.events.kind_name(s.kind));
                    for c in c0..c1 {
                        buf[(x0 + c, y)].set_char('█').set_fg(color);
                    }
                }
            }
            y += 1;
        }
        if y < inner.y + rows {
            row("TX ring", y, buf);
            let max = self.run.counter_max("TX ring slots in use");
            if max > 0.0 {
                for c in 0..cols {
                    let u = self.run.counter_mean(
                        "TX ring slots in use",
                        col_start(c),
                        col_start(c + 1),
                    ) / max;
                    if u > 0.0 {
                        buf[(inner.x + label_w + c, y)]
                            .set_char(BARS[((u * 7.99) as usize).min(7)])
                            .set_fg(Color::Yellow);
                    }
                }
            }
        }
        if let Some(t) = self.cursor
            && t >= self.start
            && t < end
        {
            let x = inner.x + label_w + col_of(t).min(cols - 1);
            for yy in inner.y..inner.y + rows {
                let cell = &mut buf[(x, yy)];
                if cell.symbol() == " " {
                    cell.set_char('│');
                }
                cell.set_style(
                    Style::new()
                        .fg(Color::White)
                        .add_modifier(Modifier::BOLD | Modifier::REVERSED),
                );
            }
        }
        let axis_y = inner.y + inner.height - 1;
        let left = sim::SimTime::from_nanos(self.start).to_string();
        let right = sim::SimTime::from_nanos(end).to_string();
        buf.set_string(
            inner.x + label_w,
            axis_y,
            &left,
            Style::new().fg(Color::DarkGray),
        );
        let rx = (inner.x + inner.width).saturating_sub(right.chars().count() as u16);
        if rx > inner.x + label_w + left.chars().count() as u16 {
            buf.set_string(rx, axis_y, &right, Style::new().fg(Color::DarkGray));
        }
    }
}

fn detail_panel(app: &App) -> Paragraph<'_> {
    let run = app.run();
    let focused = app.panel == Panel::Detail;
    let block = Block::new()
        .borders(Borders::ALL)
        .border_style(if focused {
            Style::new().fg(Color::Cyan)
        } else {
            Style::new()
        })
        .title(" detail ");
    let mut lines = Vec::new();
    match run.events.get(app.cursor) {
        None => lines.push(Line::raw("no events recorded")),
        Some(e) => {
            let lane = run.lanes.get(e.lane).map_or("?", |l| l.name.as_str());
            let when = sim::SimTime::from_nanos(e.time);
            let head = if e.end > e.time {
                format!(
                    "event {}/{}: {} on {lane} at {when} for {}",
                    app.cursor + 1,
                    run.events.len(),
                    e.kind,
                    sim::SimDuration::from_nanos(e.end - e.time)
                )
            } else {
                format!(
                    "event {}/{}: {} on {lane} at {when}",
                    app.cursor + 1,
                    run.events.len(),
                    e.kind
                )
            };
            lines.push(Line::styled(
                head,
                Style::new()
                    .fg(kind_color(e.kind))
                    .add_modifier(Modifier::BOLD),
            ));
            lines.push(Line::raw(e.label.to_string()));
            if let Some(note) = run.note(e.detail) {
                lines.push(Line::raw(note.trim().to_owned()));
            }
        }
    }
    Paragraph::new(lines).block(block).wrap(Wrap { trim: true })
}

fn totals_panel(app: &App) -> Paragraph<'_> {
    let run = app.run();
    let t = app.cursor_time();
    let mut lines: Vec<Line> = TOTALS
        .iter()
        .map(|series| {
            let v = run.counter_at(series, t).unwrap_or(0.0) as u64;
            let shown = if series.contains("bytes") {
                models::world::human_bytes(v)
            } else {
                v.to_string()
            };
            Line::raw(format!("{series}: {shown}"))
        })
        .collect();
    lines.push(Line::raw(format!("at {}", sim::SimTime::from_nanos(t))));
    // A receive run's totals for the whole run: how the payload reached the reader.
    if let Some(rx) = run.report.as_ref().and_then(|r| r.receive.as_ref()) {
        lines.push(Line::raw(format!(
            "receive: {} flipped, {} mapped, {} cqes",
            rx.pages_flipped, rx.pages_mapped, rx.completions
        )));
        lines.push(Line::raw(format!(
            "{} fallbacks, {} copied, {:.1} us/MiB",
            rx.fallbacks,
            models::world::human_bytes(rx.copied_bytes),
            rx.cpu_us_per_mib
        )));
    }
    Paragraph::new(lines)
        .block(Block::new().borders(Borders::ALL).title(" so far "))
        .wrap(Wrap { trim: true })
}

/// The physical frames as a grid coloured by state; a cell stands for several frames when
/// they do not fit, showing the most telling state among them.
pub struct FrameMap<'a> {
    pub states: &'a [FrameState],
    pub focused: bool,
}

impl Widget for FrameMap<'_> {
    fn render(self, area: Rect, buf: &mut Buffer) {
        let block = Block::new()
            .borders(Borders::ALL)
            .border_style(if self.focused {
                Style::new().fg(Color::Cyan)
            } else {
                Style::new()
            })
            .title(format!(" frames ({}) ", self.states.len()));
        let inner = block.inner(area);
        block.render(area, buf);
        if inner.width == 0 || inner.height < 2 {
            return;
        }
        let grid_h = inner.height - 1;
        let cells = (inner.width as usize) * (grid_h as usize);
        let per = self.states.len().div_ceil(cells.max(1)).max(1);
        let rank = |s: &FrameState| match s {
            FrameState::Lent => 5,
            FrameState::InFlight => 4,
            FrameState::CowShared => 3,
            FrameState::Anon => 2,
            FrameState::PageCache => 1,
            FrameState::Free => 0,
        };
        for (i, chunk) in self.states.chunks(per).enumerate() {
            let (x, y) = (i % inner.width as usize, i / inner.width as usize);
            if y >= grid_h as usize {
                break;
            }
            let s = chunk
                .iter()
                .max_by_key(|s| rank(s))
                .copied()
                .unwrap_or(FrameState::Free);
            buf[(inner.x + x as u16, inner.y + y as u16)]
                .set_char('■')
                .set_fg(frame_color(s));
        }
        let legend: Vec<Span> = FrameState::ALL
            .iter()
            .flat_map(|s| {
                [
                    Span::styled("■", Style::new().fg(frame_color(*s))),
                    Span::raw(format!("{} ", s.name())),
                ]
            })
            .collect();
        buf.set_line(inner.x, inner.y + grid_h, &Line::from(legend), inner.width);
    }
}

/// The help overlay: one line per binding of the keymap. When the terminal is too short for
/// one column, the bindings go in two side by side; when even that does not fit, the last
/// line says how many are left out.
fn draw_help(f: &mut Frame, area: Rect) {
    let all = help_lines();
    let rows = area.height.saturating_sub(2) as usize;
    let lines: Vec<Line> = if all.len() <= rows {
        all.into_iter().map(Line::raw).collect()
    } else if all.len().div_ceil(2) <= rows && area.width >= 100 {
        let half = all.len().div_ceil(2);
        (0..half)
            .map(|i| {
                let right = all.get(half + i).map_or("", String::as_str);
                Line::raw(format!("{:<48} {right}", all[i]))
            })
            .collect()
    } else {
        let keep = rows.saturating_sub(1);
        let mut v: Vec<Line> = all[..keep].iter().cloned().map(Line::raw).collect();
        v.push(Line::raw(format!(
            "… {} more: a taller terminal shows them",
            all.len() - keep
        )));
        v
    };
    let w = if area.width >= 100 && lines.len() < help_lines().len() {
        area.width.min(100)
    } else {
        area.width.min(72)
    };
    let h = area.height.min(lines.len() as u16 + 2);
    let popup = Rect::new(
        area.x + (area.width - w) / 2,
        area.y + (area.height - h) / 2,
        w,
        h,
    );
    f.render_widget(Clear, popup);
    f.render_widget(
        Paragraph::new(lines).block(
            Block::new()
                .borders(Borders::ALL)
                .title(" keys ")
                .title_alignment(Alignment::Center),
        ),
        popup,
    );
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A run of one lane, `cpu0`, holding `spans` (start, end) of copies.
    fn run(spans: &[(u64, u64)]) -> RunView {
        let mut r = RunView::recording("t".into(), 1000);
        r.declare_lanes(&["cpu0".to_owned()]);
        r.add(spans.iter().map(|&(start, end)| {
            sim::TraceRecord::Span(sim::trace::Span {
                lane: sim::LaneId(0),
                start: sim::SimTime::from_nanos(start),
                end: sim::SimTime::from_nanos(end),
                kind: "copy",
                label: "x".into(),
                detail: 0,
            })
        }));
        r.finish(serde_free_report(), sim::SimTime::from_nanos(100));
        r
    }

    fn serde_free_report() -> models::report::RunReport {
        // Any real report will do; the widgets never read it.
        crate::data::tests::report()
    }

    #[test]
    fn spans_land_in_their_columns() {
        // A 20-wide block has 18 inner columns: 4 for the label, 14 for time (x = 5..19).
        // Over 0..100 ns a span 0..50 fills time columns 0..7 (x = 5..12) and one at 75..100
        // columns 10..14 (75 × 14 / 100 = 10.5 rounds down; x = 15..19); the cursor at 50 ns
        // marks column 7 (x = 12). The axis shows the window's ends.
        let r = run(&[(0, 50), (75, 100)]);
        let mut buf = Buffer::empty(Rect::new(0, 0, 20, 4));
        Timeline {
            run: &r,
            start: 0,
            span: 100,
            cursor: Some(50),
            focused: false,
        }
        .render(buf.area, &mut buf);
        let expected = Buffer::with_lines([
            "┌ t ───────────────┐",
            "│cpu ███████│  ████│",
            "│    0 ns    100 ns│",
            "└──────────────────┘",
        ]);
        for y in 0..4 {
            for x in 0..20 {
                assert_eq!(
                    buf[(x, y)].symbol(),
                    expected[(x, y)].symbol(),
                    "cell ({x}, {y})\n{buf:?}"
                );
            }
        }
    }

    #[test]
    fn frame_map_shows_the_most_telling_state_per_cell() {
        // Eight frames in a 4-cell grid: two per cell. A cell holding a loaned frame shows
        // it, whatever shares the cell.
        let states = [
            FrameState::Free,
            FrameState::Lent,
            FrameState::Free,
            FrameState::Free,
            FrameState::PageCache,
            FrameState::InFlight,
            FrameState::Anon,
            FrameState::Free,
        ];
        let mut buf = Buffer::empty(Rect::new(0, 0, 6, 4));
        FrameMap {
            states: &states,
            focused: false,
        }
        .render(buf.area, &mut buf);
        let colors: Vec<Color> = (1..5).map(|x| buf[(x, 1)].fg).collect();
        assert_eq!(
            colors,
            vec![
                frame_color(FrameState::Lent),
                frame_color(FrameState::Free),
                frame_color(FrameState::InFlight),
                frame_color(FrameState::Anon)
            ]
        );
    }
}
