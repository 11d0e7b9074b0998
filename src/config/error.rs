//! Configuration errors that name the file, line, column and field: a
//! [`FieldPath`] (`interface[2].sa_out.key`) is resolved to a byte span by
//! walking the toml crate's spanned document ([`toml::de::DeTable`]), and
//! the span to a 1-based line and column.

use std::fmt;
use std::io;
use std::path::PathBuf;

use thiserror::Error;
use toml::Spanned;
use toml::de::{DeTable, DeValue};

/// One step of a path into the document: a table key or an array index.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PathSegment {
    /// A key of a table (`mtu`).
    Key(String),
    /// An element of an array, counted from 0 (`interface[2]`).
    Index(usize),
}

/// Where a value is in the configuration, as keys and indices from the top:
/// displayed as `interface[2].sa_out.key` (indices count from 0).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct FieldPath(pub Vec<PathSegment>);

impl FieldPath {
    /// The document itself.
    pub fn root() -> Self {
        Self::default()
    }

    /// This path extended by a key.
    pub fn key(&self, key: &str) -> Self {
        let mut path = self.clone();
        path.0.push(PathSegment::Key(key.to_owned()));
        path
    }

    /// This path extended by an array index.
    pub fn index(&self, index: usize) -> Self {
        let mut path = self.clone();
        path.0.push(PathSegment::Index(index));
        path
    }

    /// `array[index]` under this path (`[[interface]]` number 2 is
    /// `root().item("interface", 2)`).
    pub fn item(&self, array: &str, index: usize) -> Self {
        self.key(array).index(index)
    }

    /// True for the document itself.
    pub fn is_root(&self) -> bool {
        self.0.is_empty()
    }
}

impl fmt::Display for FieldPath {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.0.is_empty() {
            return f.write_str("(document)");
        }
        for (i, segment) in self.0.iter().enumerate() {
            match segment {
                PathSegment::Key(key) if i == 0 => f.write_str(key)?,
                PathSegment::Key(key) => write!(f, ".{key}")?,
                PathSegment::Index(index) => write!(f, "[{index}]")?,
            }
        }
        Ok(())
    }
}

/// A problem with one field, before it is placed in a file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConfigIssue {
    /// The field.
    pub path: FieldPath,
    /// What is wrong and what is expected.
    pub message: String,
}

impl ConfigIssue {
    /// An issue at `path`.
    pub fn new(path: FieldPath, message: impl Into<String>) -> Self {
        Self {
            path,
            message: message.into(),
        }
    }
}

impl fmt::Display for ConfigIssue {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.path, self.message)
    }
}

/// A problem placed in its file: `file:line:column: field: message`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Located {
    /// The file (or the name given for text that came from elsewhere).
    pub file: PathBuf,
    /// 1-based line; 0 when the field is not in the text.
    pub line: usize,
    /// 1-based column (characters); 0 when unknown.
    pub column: usize,
    /// The field, as a path (`route[3].next_hop`).
    pub field: FieldPath,
    /// What is wrong.
    pub message: String,
}

impl fmt::Display for Located {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{}:{}: ", self.file.display(), self.line, self.column)?;
        if !self.field.is_root() {
            write!(f, "{}: ", self.field)?;
        }
        f.write_str(&self.message)
    }
}

/// Why a node configuration could not be loaded.
#[derive(Debug, Error)]
pub enum ConfigError {
    /// The file could not be read.
    #[error("{}: cannot read the node configuration: {source}", file.display())]
    Read {
        /// The file.
        file: PathBuf,
        /// The I/O error.
        source: io::Error,
    },
    /// The text is not TOML, a field has the wrong type, an unknown field
    /// is present or a required one is missing.
    #[error("{0}")]
    Syntax(Located),
    /// The TOML is well formed but describes an impossible node; every
    /// problem found, in file order.
    #[error("{}", join_lines(.0))]
    Invalid(Vec<Located>),
}

impl ConfigError {
    /// Every located problem (empty for a read error).
    pub fn problems(&self) -> &[Located] {
        match self {
            ConfigError::Read { .. } => &[],
            ConfigError::Syntax(located) => std::slice::from_ref(located),
            ConfigError::Invalid(all) => all,
        }
    }
}

fn join_lines(problems: &[Located]) -> String {
    problems
        .iter()
        .map(Located::to_string)
        .collect::<Vec<_>>()
        .join("\n")
}

/// Turns byte offsets and field paths of one document into lines and
/// columns.
pub(crate) struct SourceMap<'t> {
    text: &'t str,
    file: PathBuf,
    document: Option<Spanned<DeTable<'t>>>,
}

impl<'t> SourceMap<'t> {
    /// Parses `text` for its spans (a document that does not parse still
    /// maps offsets to lines).
    pub(crate) fn new(text: &'t str, file: PathBuf) -> Self {
        Self {
            text,
            file,
            document: DeTable::parse(text).ok(),
        }
    }

    /// 1-based line and column of a byte offset.
    pub(crate) fn line_column(&self, offset: usize) -> (usize, usize) {
        let offset = offset.min(self.text.len());
        let before = self.text.get(..offset).unwrap_or(self.text);
        let line = before.matches('\n').count() + 1;
        let line_start = before.rfind('\n').map_or(0, |at| at + 1);
        let column = before.get(line_start..).map_or(0, |s| s.chars().count()) + 1;
        (line, column)
    }

    /// Places an issue: at its field when the field is in the text, at the
    /// nearest enclosing table or array otherwise (a missing field).
    pub(crate) fn locate(&self, issue: ConfigIssue) -> Located {
        let (line, column) = self
            .span_of(&issue.path)
            .map_or((0, 0), |span| self.line_column(span.start));
        Located {
            file: self.file.clone(),
            line,
            column,
            field: issue.path,
            message: issue.message,
        }
    }

    /// Places every issue and sorts them in file order.
    pub(crate) fn invalid(&self, issues: Vec<ConfigIssue>) -> ConfigError {
        let mut located: Vec<Located> = issues.into_iter().map(|i| self.locate(i)).collect();
        located.sort_by_key(|l| (l.line, l.column));
        ConfigError::Invalid(located)
    }

    /// Places a toml deserialisation error: its span gives the line and
    /// column, the deepest field around the span gives the path.
    pub(crate) fn locate_toml_error(&self, error: &toml::de::Error) -> Located {
        let span = error.span();
        let (line, column) = span
            .as_ref()
            .map_or((0, 0), |span| self.line_column(span.start));
        let field = span
            .and_then(|span| {
                let document = self.document.as_ref()?;
                Some(path_at(document.get_ref(), span.start))
            })
            .unwrap_or_default();
        Located {
            file: self.file.clone(),
            line,
            column,
            field,
            message: error.message().trim_end().to_owned(),
        }
    }

    /// The span of the value at `path`, or of its nearest existing ancestor.
    fn span_of(&self, path: &FieldPath) -> Option<std::ops::Range<usize>> {
        let document = self.document.as_ref()?;
        let mut best = None;
        let mut table: Option<&DeTable<'_>> = Some(document.get_ref());
        let mut value: Option<&Spanned<DeValue<'_>>> = None;
        for segment in &path.0 {
            let next = match (segment, table, value) {
                (PathSegment::Key(key), Some(t), _) => t.get(key.as_str()),
                (PathSegment::Index(i), _, Some(v)) => match v.get_ref() {
                    DeValue::Array(array) => array.get(*i),
                    _ => None,
                },
                _ => None,
            };
            let Some(next) = next else { break };
            best = Some(next.span());
            value = Some(next);
            table = match next.get_ref() {
                DeValue::Table(t) => Some(t),
                _ => None,
            };
        }
        best
    }
}

/// The path of the smallest key, value or array item span that contains
/// `offset`. Spans do not nest for arrays of tables (an item's span is its
/// `[[header]]` line), so the whole tree is searched.
fn path_at(table: &DeTable<'_>, offset: usize) -> FieldPath {
    let mut best: Option<(usize, FieldPath)> = None;
    visit_table(table, offset, &FieldPath::root(), &mut best);
    best.map(|(_, path)| path).unwrap_or_default()
}

type Best = Option<(usize, FieldPath)>;

fn consider(span: std::ops::Range<usize>, offset: usize, path: &FieldPath, best: &mut Best) {
    let len = span.len();
    let contains = span.contains(&offset) || (span.is_empty() && span.start == offset);
    if contains && best.as_ref().is_none_or(|(l, _)| len <= *l) {
        *best = Some((len, path.clone()));
    }
}

fn visit_table(table: &DeTable<'_>, offset: usize, here: &FieldPath, best: &mut Best) {
    for (key, value) in table.iter() {
        let path = here.key(key.get_ref());
        consider(key.span(), offset, &path, best);
        consider(value.span(), offset, &path, best);
        visit_value(value.get_ref(), offset, &path, best);
    }
}

fn visit_value(value: &DeValue<'_>, offset: usize, here: &FieldPath, best: &mut Best) {
    match value {
        DeValue::Table(table) => visit_table(table, offset, here, best),
        DeValue::Array(array) => {
            for (i, item) in array.iter().enumerate() {
                let path = here.index(i);
                consider(item.span(), offset, &path, best);
                visit_value(item.get_ref(), offset, &path, best);
            }
        }
        _ => {}
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const TEXT: &str = "name = \"n\"\n\n[[interface]]\nname = \"lan\"\nmtu = 1500\n\n[[interface]]\nname = \"vpn\"\nsa_out = { spi = 7, key = \"00\" }\n";

    #[test]
    fn paths_display_like_toml_keys() {
        let path = FieldPath::root()
            .item("interface", 2)
            .key("sa_out")
            .key("key");
        assert_eq!(path.to_string(), "interface[2].sa_out.key");
        assert_eq!(FieldPath::root().to_string(), "(document)");
    }

    #[test]
    fn fields_resolve_to_their_lines() {
        let map = SourceMap::new(TEXT, "node.toml".into());
        let at = |path: FieldPath| {
            let located = map.locate(ConfigIssue::new(path, "x"));
            (located.line, located.column)
        };
        assert_eq!(at(FieldPath::root().key("name")), (1, 8));
        assert_eq!(
            at(FieldPath::root().item("interface", 0).key("mtu")),
            (5, 7)
        );
        let key = FieldPath::root()
            .item("interface", 1)
            .key("sa_out")
            .key("key");
        assert_eq!(at(key), (9, 27));
        // A missing field falls back to the enclosing table.
        let missing = at(FieldPath::root().item("interface", 1).key("mac"));
        assert!(missing.0 >= 7 && missing.0 <= 9, "{missing:?}");
    }

    #[test]
    fn offsets_find_the_deepest_field() {
        let map = SourceMap::new(TEXT, "node.toml".into());
        let document = map.document.as_ref().unwrap();
        let offset = TEXT.find("\"00\"").unwrap();
        let path = path_at(document.get_ref(), offset);
        assert_eq!(path.to_string(), "interface[1].sa_out.key");
    }
}
