//! One declaration per list of drop reasons. [`reason_enum!`] turns a list
//! of `Variant = "snake_case_name"` lines into the fieldless enum, its
//! `ALL` array in counter order, `COUNT`, the stable name reports and
//! counters use (`as_str`) and that name behind the node's prefix
//! (`report_name`, e.g. `esp_` + `unknown_spi`), so no list is kept by hand
//! twice (the idea of smoltcp's `enum_with_unknown!`). [`node_drop_enum!`]
//! does the same for the node's [`crate::dataplane::DropReason`], which
//! nests the lower layers' lists before its own reasons.

/// Declares a fieldless reason enum (`#[repr(u8)]`, variants in counter
/// order) with `ALL`, `COUNT`, `index`, `as_str` and `report_name`
/// (`$prefix` + the name). Attributes before `enum` (docs, extra derives,
/// serde) and on each variant (docs, `#[error]`) are kept.
macro_rules! reason_enum {
    (
        $(#[$meta:meta])*
        $vis:vis enum $name:ident (prefix $prefix:literal) {
            $(
                $(#[$variant_meta:meta])*
                $variant:ident = $text:literal,
            )+
        }
    ) => {
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
        $(#[$meta])*
        #[repr(u8)]
        $vis enum $name {
            $(
                $(#[$variant_meta])*
                $variant,
            )+
        }

        impl $name {
            /// Number of reasons (the size of a counter array).
            pub const COUNT: usize = 0 $(+ $crate::reason::reason_enum!(@one $variant))+;

            /// Every reason, in counter order (`ALL[r.index()] == r`).
            pub const ALL: [$name; Self::COUNT] = [$($name::$variant,)+];

            /// The reason's counter index.
            pub const fn index(self) -> usize {
                self as usize
            }

            /// Stable snake_case name for reports and counters.
            pub const fn as_str(self) -> &'static str {
                match self {
                    $($name::$variant => $text,)+
                }
            }

            /// The name the node reports it under: the layer's prefix and
            /// [`Self::as_str`].
            pub const fn report_name(self) -> &'static str {
                match self {
                    $($name::$variant => concat!($prefix, $text),)+
                }
            }
        }
    };
    (@one $variant:ident) => {
        1
    };
}

pub(crate) use reason_enum;

/// Declares the node's drop reason: the lower layers' reason enums nested
/// first (`Wire(WireDrop)`, ...; each named by its `report_name`), then the
/// node's own unit reasons with their names. Generates `COUNT`, a dense
/// `index` (layers in order, then the own reasons), `all()` in that order
/// and `as_str`.
macro_rules! node_drop_enum {
    (
        $(#[$meta:meta])*
        $vis:vis enum $name:ident {
            layers {
                $(
                    $(#[$layer_meta:meta])*
                    $layer:ident($layer_type:ty),
                )+
            }
            own {
                $(
                    $(#[$own_meta:meta])*
                    $own:ident = $text:literal,
                )+
            }
        }
    ) => {
        $(#[$meta])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
        $vis enum $name {
            $(
                $(#[$layer_meta])*
                $layer($layer_type),
            )+
            $(
                $(#[$own_meta])*
                $own,
            )+
        }

        /// Ordinals of the layers and of the node's own reasons.
        mod node_drop_order {
            #[allow(dead_code)]
            #[repr(u8)]
            pub(super) enum Layer {
                $($layer,)+
            }
            #[allow(dead_code)]
            #[repr(u8)]
            pub(super) enum Own {
                $($own,)+
            }
        }

        impl $name {
            /// Each layer's reason count, in layer order.
            const LAYER_COUNTS: &'static [usize] = &[$(<$layer_type>::COUNT,)+];

            /// Where each layer's counters start (and, last, the own reasons').
            const LAYER_STARTS: [usize; Self::LAYER_COUNTS.len() + 1] = {
                let mut starts = [0; Self::LAYER_COUNTS.len() + 1];
                let mut i = 0;
                while i < Self::LAYER_COUNTS.len() {
                    starts[i + 1] = starts[i] + Self::LAYER_COUNTS[i];
                    i += 1;
                }
                starts
            };

            /// The node's own reasons, in counter order.
            const OWN: &'static [$name] = &[$($name::$own,)+];

            /// Number of reasons (the size of a counter array).
            pub const COUNT: usize = Self::LAYER_STARTS[Self::LAYER_COUNTS.len()] + Self::OWN.len();

            /// Counter index: each layer's reasons in layer order, then the
            /// node's own.
            pub const fn index(self) -> usize {
                match self {
                    $(
                        $name::$layer(reason) => {
                            Self::LAYER_STARTS[node_drop_order::Layer::$layer as usize] + reason.index()
                        }
                    )+
                    $(
                        $name::$own => {
                            Self::LAYER_STARTS[Self::LAYER_COUNTS.len()]
                                + node_drop_order::Own::$own as usize
                        }
                    )+
                }
            }

            /// Every reason, in counter order.
            pub fn all() -> impl Iterator<Item = $name> {
                std::iter::empty()
                    $(.chain(<$layer_type>::ALL.into_iter().map($name::$layer)))+
                    .chain(Self::OWN.iter().copied())
            }

            /// Stable snake_case name for reports and counters.
            pub const fn as_str(self) -> &'static str {
                match self {
                    $($name::$layer(reason) => reason.report_name(),)+
                    $($name::$own => $text,)+
                }
            }
        }
    };
}

pub(crate) use node_drop_enum;

#[cfg(test)]
mod tests {
    // The macro's methods are `pub` for the crate's public lists; this one is private.
    #![allow(unreachable_pub)]

    reason_enum! {
        /// A list to test the declaration with.
        pub enum Sample (prefix "sample_") {
            /// First.
            First = "first",
            /// Second.
            Second = "second_one",
            /// Third.
            Third = "third",
        }
    }

    #[test]
    fn one_declaration_gives_all_count_index_and_names() {
        assert_eq!(Sample::COUNT, 3);
        assert_eq!(Sample::ALL, [Sample::First, Sample::Second, Sample::Third]);
        for (i, reason) in Sample::ALL.into_iter().enumerate() {
            assert_eq!(reason.index(), i);
            assert_eq!(reason.report_name(), format!("sample_{}", reason.as_str()));
        }
        assert_eq!(Sample::Second.as_str(), "second_one");
        assert_eq!(Sample::Third.report_name(), "sample_third");
    }
}
