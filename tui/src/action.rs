//! Everything the user can ask for, and the keys that ask for it. One table, [`KEYMAP`],
//! holds every binding: [`action_for`] maps a key press through it, and the help overlay
//! ([`help_lines`]) and the footer ([`footer_text`]) are written from it, so what the screen
//! says is what the keys do. Only `App::update` changes state.

use ratatui::crossterm::event::{KeyCode, KeyEvent, KeyModifiers};

/// A user's request (or the playback clock's tick).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Action {
    PanLeft,
    PanRight,
    ZoomIn,
    ZoomOut,
    NextEvent,
    PrevEvent,
    NextSameKind,
    PrevSameKind,
    First,
    Last,
    NextPanel,
    /// Pick the strategy numbered from 0.
    Pick(usize),
    ToggleCompare,
    TogglePlay,
    ToggleHelp,
    Quit,
    /// Jump to the next / previous event of the chosen kind (or matching the last search).
    JumpNext,
    JumpPrev,
    /// Choose the next kind from [`JUMP_KINDS`] for `]` and `[`.
    CycleJumpKind,
    /// Start typing a search (`/`); the keys then edit it until Enter or Esc.
    StartSearch,
    /// A character typed into the search.
    SearchInput(char),
    SearchBackspace,
    /// Enter: search from the cursor on, and make `]`/`[` repeat it.
    SearchSubmit,
    SearchCancel,
    /// Playback: twice / half as many events per step.
    Faster,
    Slower,
    /// Playback clock: advance while playing.
    Tick,
    /// The terminal changed size.
    Resize(u16, u16),
    /// Recording clock: take what the recorder has made since (see [`crate::load`]).
    Load,
}

/// A key a binding answers to.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Key {
    /// The key alone. For a character that is not a lowercase letter, Shift is allowed
    /// (terminals report `N`, `+` or `?` with or without it).
    Plain(KeyCode),
    /// A second key for the same thing, left out of the help.
    Alias(KeyCode),
    /// Shift with a lowercase letter (some terminals report Shift+n rather than `N`); not
    /// shown in the help, where the capital letter stands for it.
    Shift(char),
    /// Control with a letter, shown as `^C`.
    Ctrl(char),
    /// The digits 1-9: [`Action::Pick`] of the digit less one.
    Digits,
}

impl Key {
    /// The action this key gives for `ev`, if it matches (`bound` is the binding's action).
    fn matches(self, ev: KeyEvent, bound: Action) -> Option<Action> {
        let mods = ev.modifiers - KeyModifiers::SHIFT;
        let shift = ev.modifiers.contains(KeyModifiers::SHIFT);
        let hit = match self {
            Key::Plain(code) | Key::Alias(code) => {
                mods.is_empty()
                    && ev.code == code
                    && !(shift && matches!(code, KeyCode::Char(c) if c.is_ascii_lowercase()))
            }
            Key::Shift(c) => mods.is_empty() && shift && ev.code == KeyCode::Char(c),
            Key::Ctrl(c) => mods == KeyModifiers::CONTROL && ev.code == KeyCode::Char(c),
            Key::Digits => {
                return match ev.code {
                    KeyCode::Char(d @ '1'..='9') if mods.is_empty() => {
                        Some(Action::Pick(d as usize - '1' as usize))
                    }
                    _ => None,
                };
            }
        };
        hit.then_some(bound)
    }

    /// How the help and the footer write the key; `None` for keys they leave out.
    pub fn name(self) -> Option<String> {
        match self {
            Key::Plain(code) => Some(match code {
                KeyCode::Left => "←".into(),
                KeyCode::Right => "→".into(),
                KeyCode::Home => "Home".into(),
                KeyCode::End => "End".into(),
                KeyCode::Tab => "Tab".into(),
                KeyCode::Esc => "Esc".into(),
                KeyCode::Char(' ') => "space".into(),
                KeyCode::Char(c) => c.to_string(),
                other => format!("{other:?}"),
            }),
            Key::Ctrl(c) => Some(format!("^{}", c.to_ascii_uppercase())),
            Key::Digits => Some("1-9".into()),
            Key::Alias(_) | Key::Shift(_) => None,
        }
    }
}

/// One line of the keymap.
#[derive(Clone, Copy, Debug)]
pub struct Binding {
    pub keys: &'static [Key],
    /// What the keys do, as the help says it.
    pub what: &'static str,
    /// The footer's word for it; consecutive bindings with the same word share one entry
    /// (`←/→ pan`). `None`: help only.
    pub footer: Option<&'static str>,
    /// The action (for [`Key::Digits`], the digit picks the strategy instead).
    pub action: Action,
}

const fn bind(
    keys: &'static [Key],
    what: &'static str,
    footer: Option<&'static str>,
    action: Action,
) -> Binding {
    Binding {
        keys,
        what,
        footer,
        action,
    }
}

use Key::{Alias, Ctrl, Digits, Plain, Shift};

/// Every key binding, in the order the help and the footer list them. The first binding that
/// matches a key press wins.
pub const KEYMAP: &[Binding] = &[
    bind(
        &[Plain(KeyCode::Left), Plain(KeyCode::Char('h'))],
        "pan left",
        Some("pan"),
        Action::PanLeft,
    ),
    bind(
        &[Plain(KeyCode::Right), Plain(KeyCode::Char('l'))],
        "pan right",
        Some("pan"),
        Action::PanRight,
    ),
    bind(
        &[
            Plain(KeyCode::Char('+')),
            Alias(KeyCode::Char('=')),
            Plain(KeyCode::Char('w')),
        ],
        "zoom in",
        Some("zoom"),
        Action::ZoomIn,
    ),
    bind(
        &[Plain(KeyCode::Char('-')), Plain(KeyCode::Char('s'))],
        "zoom out",
        Some("zoom"),
        Action::ZoomOut,
    ),
    bind(
        &[Plain(KeyCode::Char('n'))],
        "next event",
        Some("event"),
        Action::NextEvent,
    ),
    bind(
        &[Plain(KeyCode::Char('p'))],
        "previous event",
        Some("event"),
        Action::PrevEvent,
    ),
    bind(
        &[Plain(KeyCode::Char('N')), Shift('n')],
        "next event of the same kind",
        Some("same kind"),
        Action::NextSameKind,
    ),
    bind(
        &[Plain(KeyCode::Char('P')), Shift('p')],
        "previous event of the same kind",
        Some("same kind"),
        Action::PrevSameKind,
    ),
    bind(
        &[Plain(KeyCode::Char(']'))],
        "next event of the chosen kind (or search match)",
        Some("jump"),
        Action::JumpNext,
    ),
    bind(
        &[Plain(KeyCode::Char('['))],
        "previous event of the chosen kind (or search match)",
        Some("jump"),
        Action::JumpPrev,
    ),
    bind(
        &[Plain(KeyCode::Char('k'))],
        "choose what ] and [ jump to (loan break, COW fault, ...)",
        Some("kind"),
        Action::CycleJumpKind,
    ),
    bind(
        &[Plain(KeyCode::Char('/'))],
        "search event text (Enter finds, Esc cancels)",
        Some("search"),
        Action::StartSearch,
    ),
    bind(
        &[Digits],
        "pick a strategy",
        Some("strategy"),
        Action::Pick(0),
    ),
    bind(&[Plain(KeyCode::Home)], "first event", None, Action::First),
    bind(&[Plain(KeyCode::End)], "last event", None, Action::Last),
    bind(
        &[Plain(KeyCode::Tab)],
        "next panel",
        None,
        Action::NextPanel,
    ),
    bind(
        &[Plain(KeyCode::Char('c'))],
        "compare with the previous strategy",
        Some("compare"),
        Action::ToggleCompare,
    ),
    bind(
        &[Plain(KeyCode::Char(' '))],
        "play / pause",
        Some("play"),
        Action::TogglePlay,
    ),
    bind(
        &[Plain(KeyCode::Char('>'))],
        "play faster (twice the events per step)",
        None,
        Action::Faster,
    ),
    bind(
        &[Plain(KeyCode::Char('<'))],
        "play slower",
        None,
        Action::Slower,
    ),
    bind(
        &[Plain(KeyCode::Char('?'))],
        "this help",
        Some("help"),
        Action::ToggleHelp,
    ),
    bind(
        &[Plain(KeyCode::Char('q')), Plain(KeyCode::Esc), Ctrl('c')],
        "quit",
        Some("quit"),
        Action::Quit,
    ),
];

/// The kinds `]` and `[` can jump to, in the order `k` cycles through them: the trace's
/// kind and how the screen names it.
pub const JUMP_KINDS: [(&str, &str); 10] = [
    ("loan break", "loan break"),
    ("cow fault", "COW fault"),
    ("splat", "splat"),
    ("retransmit", "retransmit"),
    ("rto", "retransmission timeout"),
    ("loss", "lost segment"),
    ("loan", "loan"),
    ("fault", "page fault"),
    ("stall", "stall"),
    ("completion", "zero-copy completion"),
];

/// The action for a key press, if any: the first binding of [`KEYMAP`] that matches.
pub fn action_for(key: KeyEvent) -> Option<Action> {
    KEYMAP
        .iter()
        .find_map(|b| b.keys.iter().find_map(|k| k.matches(key, b.action)))
}

/// The action for a key press while a search is being typed: characters edit it, Enter
/// submits, Esc cancels, Ctrl-C still quits.
pub fn search_action_for(key: KeyEvent) -> Option<Action> {
    let mods = key.modifiers - KeyModifiers::SHIFT;
    match key.code {
        KeyCode::Char('c') if mods == KeyModifiers::CONTROL => Some(Action::Quit),
        KeyCode::Char(c) if mods.is_empty() => Some(Action::SearchInput(c)),
        KeyCode::Backspace => Some(Action::SearchBackspace),
        KeyCode::Enter => Some(Action::SearchSubmit),
        KeyCode::Esc => Some(Action::SearchCancel),
        _ => None,
    }
}

/// The keys of a binding as the help shows them: `q Esc ^C`.
pub fn keys_label(b: &Binding) -> String {
    b.keys
        .iter()
        .filter_map(|k| k.name())
        .collect::<Vec<_>>()
        .join(" ")
}

/// The help overlay's lines: keys right-aligned, then what they do.
pub fn help_lines() -> Vec<String> {
    KEYMAP
        .iter()
        .map(|b| format!("{:>8}  {}", keys_label(b), b.what))
        .collect()
}

/// The footer in at most `width` columns: whole entries from the left, and `? help` and
/// `q quit` always (the help lists the rest).
pub fn footer_fit(width: usize) -> String {
    let full = footer_text();
    if full.chars().count() <= width {
        return full;
    }
    let entries: Vec<&str> = full.split("  ").map(str::trim).collect();
    let tail: Vec<&str> = entries
        .iter()
        .copied()
        .filter(|e| e.ends_with(" help") || e.ends_with(" quit"))
        .collect();
    let tail_text = format!(" {}", tail.join("  "));
    let mut out = String::new();
    for e in entries.iter().filter(|e| !tail.contains(e)) {
        let next = format!(" {e} ");
        if out.chars().count() + next.chars().count() + tail_text.chars().count() > width {
            break;
        }
        out.push_str(&next);
    }
    out.push_str(&tail_text);
    out.chars().take(width).collect()
}

/// The footer: each footer word once, after the first key of every binding that has it.
pub fn footer_text() -> String {
    let mut groups: Vec<(&str, Vec<String>)> = Vec::new();
    for b in KEYMAP {
        let (Some(word), Some(key)) = (b.footer, b.keys.iter().find_map(|k| k.name())) else {
            continue;
        };
        match groups.last_mut() {
            Some((w, keys)) if *w == word => keys.push(key),
            _ => groups.push((word, vec![key])),
        }
    }
    groups
        .iter()
        .map(|(word, keys)| format!(" {} {word} ", keys.join("/")))
        .collect::<String>()
        .trim_end()
        .to_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn k(c: KeyCode) -> KeyEvent {
        KeyEvent::new(c, KeyModifiers::NONE)
    }

    #[test]
    fn keys_map_to_actions() {
        assert_eq!(action_for(k(KeyCode::Char('h'))), Some(Action::PanLeft));
        assert_eq!(action_for(k(KeyCode::Char('='))), Some(Action::ZoomIn));
        assert_eq!(action_for(k(KeyCode::Char('n'))), Some(Action::NextEvent));
        assert_eq!(
            action_for(k(KeyCode::Char('N'))),
            Some(Action::NextSameKind)
        );
        assert_eq!(
            action_for(KeyEvent::new(KeyCode::Char('N'), KeyModifiers::SHIFT)),
            Some(Action::NextSameKind)
        );
        assert_eq!(
            action_for(KeyEvent::new(KeyCode::Char('n'), KeyModifiers::SHIFT)),
            Some(Action::NextSameKind)
        );
        assert_eq!(
            action_for(KeyEvent::new(KeyCode::Char('?'), KeyModifiers::SHIFT)),
            Some(Action::ToggleHelp)
        );
        assert_eq!(action_for(k(KeyCode::Char('3'))), Some(Action::Pick(2)));
        assert_eq!(action_for(k(KeyCode::Esc)), Some(Action::Quit));
        assert_eq!(action_for(k(KeyCode::Char('z'))), None);
    }

    #[test]
    fn ctrl_c_quits_and_plain_c_compares() {
        // In raw mode the terminal sends Ctrl-C as a key, not SIGINT: the table must turn it
        // into Quit, while `c` alone (and Ctrl with another letter) keep their meaning.
        let ctrl = |c| KeyEvent::new(KeyCode::Char(c), KeyModifiers::CONTROL);
        assert_eq!(action_for(ctrl('c')), Some(Action::Quit));
        assert_eq!(
            action_for(k(KeyCode::Char('c'))),
            Some(Action::ToggleCompare)
        );
        assert_eq!(action_for(ctrl('h')), None);
    }

    #[test]
    fn the_footer_and_help_come_from_the_table() {
        // The footer is the table's footer words in order, with their first keys; every
        // binding has a help line naming its shown keys.
        assert_eq!(
            footer_text(),
            " ←/→ pan  +/- zoom  n/p event  N/P same kind  ]/[ jump  k kind  / search  1-9 strategy  c compare  space play  ? help  q quit"
        );
        let help = help_lines();
        assert_eq!(help.len(), KEYMAP.len());
        assert!(help.iter().any(|l| l == "q Esc ^C  quit"), "{help:?}");
        assert!(help.iter().any(|l| l == "     + w  zoom in"), "{help:?}");
    }

    #[test]
    fn the_footer_fits_small_terminals_and_keeps_help_and_quit() {
        // At 60 columns the full footer does not fit: what is shown must fit, and still say
        // how to get the help and how to quit.
        for w in [20, 40, 60, 200] {
            let f = footer_fit(w);
            assert!(f.chars().count() <= w, "{w}: {f}");
            if w >= 20 {
                assert!(f.contains("? help") && f.contains("q quit"), "{w}: {f}");
            }
        }
        assert_eq!(footer_fit(200), footer_text());
    }

    #[test]
    fn typing_a_search_edits_it() {
        // While a search is typed, `n` is a letter of it, not "next event"; Enter submits,
        // Esc cancels and Ctrl-C still quits.
        assert_eq!(
            search_action_for(k(KeyCode::Char('n'))),
            Some(Action::SearchInput('n'))
        );
        assert_eq!(
            search_action_for(k(KeyCode::Enter)),
            Some(Action::SearchSubmit)
        );
        assert_eq!(
            search_action_for(k(KeyCode::Esc)),
            Some(Action::SearchCancel)
        );
        assert_eq!(
            search_action_for(KeyEvent::new(KeyCode::Char('c'), KeyModifiers::CONTROL)),
            Some(Action::Quit)
        );
    }
}
