//! The enums Flare stores and sends by name (role, run status, severity, escalation status,
//! trigger, message and token kinds). strum writes both directions from one list of variants;
//! this module adds the one conversion the database needs: a stored name read back as its enum,
//! where an unknown name is an error that names the kind and the value, never a default.

/// A stored name that matches no variant: a row written by a newer Flare, or edited by hand.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown {kind} {value:?} stored")]
pub struct UnknownName {
    pub kind: &'static str,
    pub value: String,
}

/// Declares an enum stored and sent by its lowercase name, written once: the variants, and
/// the name of what it is (for errors). It gets `as_str`, `from_stored` (an unknown name is an
/// [`UnknownName`]), parsing (`FromStr`), serde under the same names, `VARIANTS`, and on the
/// server sqlx decoding, so a row type holds the enum itself and an unknown stored name fails
/// the query that read it.
macro_rules! stored_enum {
    (
        $(#[$meta:meta])*
        $vis:vis enum $name:ident as $kind:literal { $($(#[$vmeta:meta])* $variant:ident),+ $(,)? }
    ) => {
        $(#[$meta])*
        #[derive(
            Clone,
            Copy,
            Debug,
            PartialEq,
            Eq,
            serde::Serialize,
            serde::Deserialize,
            strum::EnumString,
            strum::IntoStaticStr,
            strum::VariantArray,
        )]
        // The JSON API's document names each one's values (server only: the browser never
        // needs it).
        #[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
        #[serde(rename_all = "lowercase")]
        #[strum(serialize_all = "lowercase")]
        $vis enum $name {
            $($(#[$vmeta])* $variant),+
        }

        impl $name {
            /// The stored and wire name.
            pub fn as_str(self) -> &'static str {
                self.into()
            }

            /// The enum a stored name stands for.
            pub fn from_stored(value: &str) -> Result<Self, $crate::names::UnknownName> {
                value.parse().map_err(|_| $crate::names::UnknownName {
                    kind: $kind,
                    value: value.into(),
                })
            }
        }

        #[cfg(feature = "ssr")]
        impl sqlx::Type<sqlx::Any> for $name {
            fn type_info() -> sqlx::any::AnyTypeInfo {
                <&str as sqlx::Type<sqlx::Any>>::type_info()
            }
            fn compatible(ty: &sqlx::any::AnyTypeInfo) -> bool {
                <&str as sqlx::Type<sqlx::Any>>::compatible(ty)
            }
        }

        #[cfg(feature = "ssr")]
        impl<'r> sqlx::Decode<'r, sqlx::Any> for $name {
            fn decode(
                value: sqlx::any::AnyValueRef<'r>,
            ) -> Result<Self, sqlx::error::BoxDynError> {
                let name = <&str as sqlx::Decode<'r, sqlx::Any>>::decode(value)?;
                Ok(Self::from_stored(name)?)
            }
        }
    };
}
pub(crate) use stored_enum;

#[cfg(test)]
mod tests {
    use crate::auth::Role;
    use crate::chat::{MessageKind, RunStatus, Trigger};
    use crate::escalations::EscalationStatus;
    use crate::rules::Severity;
    use crate::tokens::TokenKind;

    /// The stored name, the wire name (serde) and the parsed name are one and the same.
    fn round_trips<T>(all: &[T])
    where
        T: Copy + PartialEq + std::fmt::Debug + serde::Serialize + std::str::FromStr,
        &'static str: From<T>,
    {
        for &v in all {
            let name: &'static str = v.into();
            assert_eq!(serde_json::to_string(&v).unwrap(), format!("\"{name}\""));
            assert!(name.parse::<T>().ok() == Some(v), "{name} reads back");
        }
    }

    #[test]
    fn every_stored_name_reads_back_as_itself() {
        use strum::VariantArray;
        round_trips(Role::VARIANTS);
        round_trips(RunStatus::VARIANTS);
        round_trips(Trigger::VARIANTS);
        round_trips(MessageKind::VARIANTS);
        round_trips(EscalationStatus::VARIANTS);
        round_trips(Severity::VARIANTS);
        round_trips(TokenKind::VARIANTS);
        round_trips(crate::triggers::TriggerKind::VARIANTS);
        round_trips(crate::triggers::EventKind::VARIANTS);
    }

    #[test]
    fn an_unknown_stored_name_is_an_error_that_says_what_it_was() {
        let err = Role::from_stored("superuser").unwrap_err();
        assert_eq!(err.to_string(), "unknown role \"superuser\" stored");
        // Names are exact: no case folding, no trimming, no default.
        assert!(Role::from_stored("Owner").is_err());
        assert!(Severity::from_stored(" critical").is_err());
        assert!(RunStatus::from_stored("").is_err());
    }
}
