//! Everything the user can ask for, and the keys that ask for it. Keys map to an [`Action`]
//! through one table ([`KEYMAP`]); only `App::update` changes state.

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
    /// Playback clock: advance while playing.
    Tick,
    /// The terminal changed size.
    Resize(u16, u16),
}

/// (keys as shown in the help, what they do, the action). Digits are handled apart.
pub const KEYMAP: &[(&str, &str, Action)] = &[
    ("← h", "pan left", Action::PanLeft),
    ("→ l", "pan right", Action::PanRight),
    ("+ w", "zoom in", Action::ZoomIn),
    ("- s", "zoom out", Action::ZoomOut),
    ("n", "next event", Action::NextEvent),
    ("p", "previous event", Action::PrevEvent),
    ("N", "next event of the same kind", Action::NextSameKind),
    ("P", "previous event of the same kind", Action::PrevSameKind),
    ("Home", "first event", Action::First),
    ("End", "last event", Action::Last),
    ("Tab", "next panel", Action::NextPanel),
    (
        "c",
        "compare with the previous strategy",
        Action::ToggleCompare,
    ),
    ("space", "play / pause", Action::TogglePlay),
    ("?", "this help", Action::ToggleHelp),
    ("q Esc", "quit", Action::Quit),
];

/// The action for a key press, if any.
pub fn action_for(key: KeyEvent) -> Option<Action> {
    let shift = key.modifiers.contains(KeyModifiers::SHIFT);
    Some(match key.code {
        KeyCode::Left | KeyCode::Char('h') => Action::PanLeft,
        KeyCode::Right | KeyCode::Char('l') => Action::PanRight,
        KeyCode::Char('+') | KeyCode::Char('=') | KeyCode::Char('w') => Action::ZoomIn,
        KeyCode::Char('-') | KeyCode::Char('s') => Action::ZoomOut,
        KeyCode::Char('n') if !shift => Action::NextEvent,
        KeyCode::Char('p') if !shift => Action::PrevEvent,
        KeyCode::Char('N') | KeyCode::Char('n') => Action::NextSameKind,
        KeyCode::Char('P') | KeyCode::Char('p') => Action::PrevSameKind,
        KeyCode::Home => Action::First,
        KeyCode::End => Action::Last,
        KeyCode::Tab => Action::NextPanel,
        KeyCode::Char('c') => Action::ToggleCompare,
        KeyCode::Char(' ') => Action::TogglePlay,
        KeyCode::Char('?') => Action::ToggleHelp,
        KeyCode::Char('q') | KeyCode::Esc => Action::Quit,
        KeyCode::Char(d @ '1'..='9') => Action::Pick(d as usize - '1' as usize),
        _ => return None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_map_to_actions() {
        let k = |c| KeyEvent::new(c, KeyModifiers::NONE);
        assert_eq!(action_for(k(KeyCode::Char('h'))), Some(Action::PanLeft));
        assert_eq!(
            action_for(k(KeyCode::Char('N'))),
            Some(Action::NextSameKind)
        );
        assert_eq!(
            action_for(KeyEvent::new(KeyCode::Char('n'), KeyModifiers::SHIFT)),
            Some(Action::NextSameKind)
        );
        assert_eq!(action_for(k(KeyCode::Char('3'))), Some(Action::Pick(2)));
        assert_eq!(action_for(k(KeyCode::Esc)), Some(Action::Quit));
        assert_eq!(action_for(k(KeyCode::Char('z'))), None);
    }
}
