//! Code generation for `#[trace]`.
//!
//! Generated code refers only to `::mlflow_tracing::__private`. Local names use
//! mixed-site hygiene so they cannot clash with the function's own names.

use proc_macro2::{Delimiter, Group, Span, TokenStream, TokenTree};
use quote::{ToTokens, quote, quote_spanned};
use syn::spanned::Spanned;
use syn::{FnArg, Ident, Pat, ReturnType, Signature, Type};

use crate::attr::TraceArgs;
use crate::item::MaybeItemFn;

pub(crate) fn expand(args: TokenStream, item: TokenStream) -> TokenStream {
    let func: MaybeItemFn = match syn::parse2(item.clone()) {
        Ok(func) => func,
        Err(_) => {
            let err = syn::Error::new(
                crate::attr::call_site(),
                "#[trace] can only be applied to functions and methods",
            );
            return with_original(err, item);
        }
    };
    let args: TraceArgs = match syn::parse2(args) {
        Ok(args) => args,
        Err(err) => return with_original(err, item),
    };
    match generate(&args, &func) {
        Ok(tokens) => tokens,
        Err(err) => with_original(err, item),
    }
}

/// The error, plus the function unchanged so the rest of the crate still type-checks
/// (and IDEs keep working) while the attribute is being fixed.
fn with_original(err: syn::Error, item: TokenStream) -> TokenStream {
    let err = err.to_compile_error();
    quote! { #err #item }
}

fn generate(args: &TraceArgs, func: &MaybeItemFn) -> syn::Result<TokenStream> {
    let MaybeItemFn {
        outer_attrs,
        vis,
        sig,
        brace,
        inner_attrs,
        body,
    } = func;
    let fn_name = sig.ident.to_string();
    let span_name = args
        .name
        .as_ref()
        .map_or_else(|| fn_name.clone(), |n| n.value());

    let captured = captured_arguments(args, sig)?;
    let hygienic = |name: &str| Ident::new(name, Span::mixed_site());
    let span_var = hygienic("__mlflow_span");
    let result_var = hygienic("__mlflow_result");
    let builder_var = hygienic("__mlflow_builder");

    let span_type = args
        .span_type
        .as_ref()
        .map(|t| quote_spanned!(t.span()=> .span_type(#t)));
    let attributes = args
        .attributes
        .iter()
        .map(|(key, value)| quote_spanned!(value.span()=> .attribute(#key, &(#value))));
    let inputs = (!args.skip_all).then(|| {
        let entries = captured.iter().map(|ident| {
            let name = ident.to_string();
            quote_spanned!(ident.span()=> .arg(#name, &#ident))
        });
        quote! {
            .__inputs_json(|| ::mlflow_tracing::__private::Inputs::new() #(#entries)* .finish())
        }
    });
    let builder = quote! {
        ::mlflow_tracing::__private::start_span(#span_name)
            #span_type
            #(#attributes)*
            .function_name(#fn_name)
            #inputs
    };

    let output_type = match &sig.output {
        ReturnType::Default => None,
        ReturnType::Type(_, ty) => Some(&**ty),
    };
    let out_var = hygienic("__mlflow_out");
    let span_ref = hygienic("__mlflow_span_ref");
    let record = record_output(args, output_type, &span_ref, &out_var);
    // Pins the body's type to the declared return type, so `?` and `.into()` in the body
    // infer exactly as they do in the original function.
    let pin_return = output_type.filter(|ty| !mentions_impl(ty)).map(|ty| {
        quote! {
            #[allow(unreachable_code, clippy::diverging_sub_expression, clippy::needless_return)]
            if false {
                let __mlflow_fake_return: #ty = loop {};
                return __mlflow_fake_return;
            }
        }
    });
    // The block that runs the body takes the span of the body's closing brace: an error
    // there (`n + }`) is then the very error the compiler already reported on the original
    // item, and is shown once, instead of a second time at the attribute.
    let mut body_block = Group::new(Delimiter::Brace, quote! { #pin_return #body });
    body_block.set_span(brace.span.close());

    let traced = if sig.asyncness.is_some() {
        quote! {
            let #builder_var = #builder;
            ::mlflow_tracing::__private::Traced::new(
                #builder_var,
                async move #body_block,
                |#span_ref: &::mlflow_tracing::__private::LiveSpan, #out_var: &_| { #record },
            )
            .await
        }
    } else {
        quote! {
            let #span_var = #builder.start();
            let #result_var = ::mlflow_tracing::__private::run_sync(#span_var.span(), || #body_block);
            {
                let #span_ref = #span_var.span();
                let #out_var = &#result_var;
                #record
            }
            ::core::mem::drop(#span_var);
            #result_var
        }
    };
    Ok(quote! {
        #(#outer_attrs)*
        #vis #sig {
            #(#inner_attrs)*
            #traced
        }
    })
}

/// Statements that record the result `out` (a reference) on `span` (a `&LiveSpan`).
fn record_output(
    args: &TraceArgs,
    output: Option<&Type>,
    span: &Ident,
    out: &Ident,
) -> TokenStream {
    let record_value = |value: &Ident| {
        if args.skip_output {
            quote! { let _ = #value; }
        } else {
            quote! { ::mlflow_tracing::__private::CaptureOutput::record_output(#value, #span); }
        }
    };
    let capture_span = output.map_or_else(Span::call_site, Spanned::span);
    if output.is_some_and(is_result) {
        let ok = Ident::new("__mlflow_ok", Span::mixed_site());
        let err = Ident::new("__mlflow_err", Span::mixed_site());
        let record_ok = record_value(&ok);
        quote_spanned! {capture_span=>
            match #out {
                ::core::result::Result::Ok(#ok) => { #record_ok }
                ::core::result::Result::Err(#err) => {
                    #[allow(unused_imports)]
                    use ::mlflow_tracing::__private::{ViaDisplay as _, ViaError as _};
                    (&&::mlflow_tracing::__private::ErrorWrap(#err)).record_on(#span);
                }
            }
        }
    } else {
        let record = record_value(out);
        quote_spanned! {capture_span=> #record }
    }
}

/// The argument names recorded as inputs, in order; checks `skip(...)`.
fn captured_arguments(args: &TraceArgs, sig: &Signature) -> syn::Result<Vec<Ident>> {
    let mut names = Vec::new();
    for input in &sig.inputs {
        if let FnArg::Typed(typed) = input {
            bound_idents(&typed.pat, &mut names);
        }
    }
    for skipped in &args.skip {
        if skipped != "self" && !names.iter().any(|n| n == skipped) {
            return Err(syn::Error::new(
                skipped.span(),
                format!("`{}` has no argument named `{skipped}` to skip", sig.ident),
            ));
        }
    }
    names.retain(|n| !args.skip.iter().any(|s| s == n));
    Ok(names)
}

/// The names a parameter pattern binds (`x`, `(a, b)`, `Point { x, y }`, …).
fn bound_idents(pat: &Pat, out: &mut Vec<Ident>) {
    match pat {
        Pat::Ident(p) => {
            out.push(p.ident.clone());
            if let Some((_, sub)) = &p.subpat {
                bound_idents(sub, out);
            }
        }
        Pat::Tuple(t) => t.elems.iter().for_each(|p| bound_idents(p, out)),
        Pat::TupleStruct(t) => t.elems.iter().for_each(|p| bound_idents(p, out)),
        Pat::Struct(s) => s.fields.iter().for_each(|f| bound_idents(&f.pat, out)),
        Pat::Reference(r) => bound_idents(&r.pat, out),
        Pat::Type(t) => bound_idents(&t.pat, out),
        Pat::Slice(s) => s.elems.iter().for_each(|p| bound_idents(p, out)),
        Pat::Paren(p) => bound_idents(&p.pat, out),
        _ => {}
    }
}

/// Whether the return type is a `Result` (`Result<T, E>`, `io::Result<T>`, …).
fn is_result(ty: &Type) -> bool {
    match ty {
        Type::Path(p) => p.path.segments.last().is_some_and(|s| s.ident == "Result"),
        Type::Paren(p) => is_result(&p.elem),
        Type::Group(g) => is_result(&g.elem),
        _ => false,
    }
}

fn mentions_impl(ty: &Type) -> bool {
    fn scan(tokens: TokenStream) -> bool {
        tokens.into_iter().any(|t| match t {
            TokenTree::Ident(i) => i == "impl",
            TokenTree::Group(g) => scan(g.stream()),
            _ => false,
        })
    }
    scan(ty.to_token_stream())
}
