//! Parsing the item under `#[trace]`.
//!
//! Only the signature is parsed; the body is kept as tokens (as `tracing-attributes`
//! does with its `MaybeItemFn`). A syntax error inside the body is then reported by the
//! compiler where it is, instead of turning into "#[trace] can only be applied to
//! functions" at the attribute.

use proc_macro2::TokenStream;
use syn::parse::{Parse, ParseStream};
use syn::token::Brace;
use syn::{Attribute, Signature, Visibility};

/// A function or method: its signature parsed, its body left as tokens.
pub(crate) struct MaybeItemFn {
    pub(crate) outer_attrs: Vec<Attribute>,
    pub(crate) vis: Visibility,
    pub(crate) sig: Signature,
    /// The body's braces, whose span the generated block that runs the body reuses.
    pub(crate) brace: Brace,
    /// `#![...]` at the top of the body; they stay at the top of the generated body.
    pub(crate) inner_attrs: Vec<Attribute>,
    /// The body's content, without its braces.
    pub(crate) body: TokenStream,
}

impl Parse for MaybeItemFn {
    fn parse(input: ParseStream<'_>) -> syn::Result<Self> {
        let outer_attrs = input.call(Attribute::parse_outer)?;
        let vis: Visibility = input.parse()?;
        let sig: Signature = input.parse()?;
        let content;
        let brace = syn::braced!(content in input);
        let inner_attrs = content.call(Attribute::parse_inner)?;
        let body: TokenStream = content.parse()?;
        Ok(MaybeItemFn {
            outer_attrs,
            vis,
            sig,
            brace,
            inner_attrs,
            body,
        })
    }
}
