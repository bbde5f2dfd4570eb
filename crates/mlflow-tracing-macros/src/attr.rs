//! Parsing the options of `#[trace(...)]`.

use proc_macro2::Span;
use syn::ext::IdentExt as _;
use syn::parse::{Parse, ParseStream};
use syn::punctuated::Punctuated;
use syn::{Expr, Ident, LitStr, Token};

/// The parsed options.
#[derive(Default)]
pub(crate) struct TraceArgs {
    pub(crate) name: Option<LitStr>,
    pub(crate) span_type: Option<Expr>,
    pub(crate) attributes: Vec<(LitStr, Expr)>,
    pub(crate) skip: Vec<Ident>,
    pub(crate) skip_all: bool,
    pub(crate) skip_output: bool,
}

const OPTIONS: &str = "name, span_type, attributes, skip, skip_all, skip_output";

impl Parse for TraceArgs {
    fn parse(input: ParseStream<'_>) -> syn::Result<Self> {
        let mut args = TraceArgs::default();
        let mut seen: Vec<String> = Vec::new();
        while !input.is_empty() {
            let key: Ident = input.parse()?;
            let key_name = key.to_string();
            if seen.contains(&key_name) {
                return Err(syn::Error::new(
                    key.span(),
                    format!("`{key_name}` is given twice"),
                ));
            }
            seen.push(key_name.clone());
            match key_name.as_str() {
                "name" => {
                    input.parse::<Token![=]>()?;
                    let lit: LitStr = input.parse().map_err(|e| {
                        syn::Error::new(
                            e.span(),
                            "`name` takes a string literal: name = \"my_span\"",
                        )
                    })?;
                    args.name = Some(lit);
                }
                "span_type" => {
                    input.parse::<Token![=]>()?;
                    args.span_type = Some(input.parse()?);
                }
                "attributes" => {
                    let content;
                    syn::parenthesized!(content in input);
                    let pairs = Punctuated::<AttributePair, Token![,]>::parse_terminated(&content)?;
                    args.attributes = pairs.into_iter().map(|p| (p.key, p.value)).collect();
                }
                "skip" => {
                    let content;
                    syn::parenthesized!(content in input);
                    // `self` is accepted (and means nothing: `self` is never recorded), as
                    // people coming from `tracing::instrument` write it.
                    let names = Punctuated::<Ident, Token![,]>::parse_terminated_with(
                        &content,
                        Ident::parse_any,
                    )?;
                    args.skip = names.into_iter().collect();
                }
                "skip_all" => args.skip_all = true,
                "skip_output" => args.skip_output = true,
                _ => {
                    return Err(syn::Error::new(
                        key.span(),
                        format!("unknown option `{key_name}`; expected one of: {OPTIONS}"),
                    ));
                }
            }
            if !input.is_empty() {
                input.parse::<Token![,]>()?;
            }
        }
        Ok(args)
    }
}

/// `"key" = value` or `key = value` inside `attributes(...)`.
struct AttributePair {
    key: LitStr,
    value: Expr,
}

impl Parse for AttributePair {
    fn parse(input: ParseStream<'_>) -> syn::Result<Self> {
        let key = if input.peek(LitStr) {
            input.parse::<LitStr>()?
        } else if input.peek(Ident) {
            let ident: Ident = input.parse()?;
            LitStr::new(&ident.to_string(), ident.span())
        } else {
            return Err(syn::Error::new(
                input.span(),
                "attribute keys are identifiers or string literals: attributes(\"custom.key\" = 1)",
            ));
        };
        input.parse::<Token![=]>()?;
        Ok(AttributePair {
            key,
            value: input.parse()?,
        })
    }
}

pub(crate) fn call_site() -> Span {
    Span::call_site()
}
