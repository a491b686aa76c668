//! What a refusal says to a person, in the two languages the platform speaks: English,
//! which the JSON API answers with, and Chinese (zh-CN), which the web pages show. Both
//! are written once, where the rule that refuses is.

use std::fmt;

/// A message in English and in Chinese. Displays as its English.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Said {
    /// In English (the API's `message`).
    pub en: String,
    /// In Chinese (what a page shows).
    pub zh: String,
}

impl Said {
    /// `en` and `zh`.
    pub fn new(en: impl Into<String>, zh: impl Into<String>) -> Said {
        Said {
            en: en.into(),
            zh: zh.into(),
        }
    }
}

impl fmt::Display for Said {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.en)
    }
}
