//! The target presets of DESIGN section 8, as TOML files in `scenarios/presets/` compiled
//! into the binary. Each parameter carries its unit and a one-line source or reason.

/// Preset names, in catalogue order.
pub const NAMES: [&str; 5] = [
    "embedded-100tx",
    "pc-2003",
    "gige-2002",
    "server-2024",
    "gpu-server-2024",
];

/// The default target.
pub const DEFAULT: &str = "embedded-100tx";

/// The TOML text of a preset.
pub fn text(name: &str) -> Option<&'static str> {
    Some(match name {
        "embedded-100tx" => include_str!("../presets/embedded-100tx.toml"),
        "pc-2003" => include_str!("../presets/pc-2003.toml"),
        "gige-2002" => include_str!("../presets/gige-2002.toml"),
        "server-2024" => include_str!("../presets/server-2024.toml"),
        "gpu-server-2024" => include_str!("../presets/gpu-server-2024.toml"),
        _ => return None,
    })
}

/// The preset's one-line description.
pub fn description(name: &str) -> Option<String> {
    let table: toml::Table = toml::from_str(text(name)?).ok()?;
    table
        .get("description")
        .and_then(|d| d.as_str())
        .map(str::to_owned)
}
