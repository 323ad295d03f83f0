//! Linked-Data signatures (`RsaSignature2017`): the signature inside an activity's body that lets a
//! server pass our activity on to others (PeerTube forwards a comment on its video to the video's
//! followers, and they accept it only if it carries its author's signature; Mastodon checks the same
//! on forwarded replies). The HTTP signature proves who sent a request; this one proves who wrote
//! the activity, whoever relays it.
//!
//! The scheme (as PeerTube and Mastodon implement it): the document without `signature`, and the
//! signature's options (`creator`, `created`, with the security context), are each canonicalized
//! (JSON-LD expanded to RDF, then URDNA2015 — RDFC-1.0 — to canonical N-Quads) and hashed with
//! SHA-256; the hex hashes, options first, are signed with RSA-SHA256 (PKCS#1 v1.5).
//!
//! JSON-LD and the canonicalization come from crates (`json-ld`, `rdf-canon`): both are subtle
//! specifications, and a canonical form that differs in one byte from the verifier's is a refused
//! activity. Contexts are never fetched: the three that our documents name are preloaded
//! (`contexts/`), and a document naming any other context URL cannot be hashed.

use std::collections::HashMap;
use std::sync::OnceLock;

use base64::Engine;
use base64::engine::general_purpose::STANDARD as B64;
use json_ld::rdf_types::{LiteralType, Term};
use json_ld::syntax::Parse;
use json_ld::{IriBuf, JsonLdProcessor, RemoteDocument, ValidId};
use rsa::sha2::{Digest, Sha256};
use rsa::{PrivateKey, PublicKey};
use serde_json::{Value, json};

/// The context URLs we can expand with, and their documents.
const CONTEXTS: [(&str, &str); 3] = [
    ("https://www.w3.org/ns/activitystreams", include_str!("contexts/activitystreams.jsonld")),
    ("https://w3id.org/security/v1", include_str!("contexts/security-v1.jsonld")),
    ("https://w3id.org/identity/v1", include_str!("contexts/identity-v1.jsonld")),
];

/// The signature type we make and check.
pub const TYPE: &str = "RsaSignature2017";

/// Failures while signing or checking.
#[derive(Debug, thiserror::Error)]
pub enum LdError {
    #[error("the document is not JSON-LD we can read: {0}")]
    Document(String),
    #[error("the document has no {0} signature")]
    Missing(&'static str),
    #[error("cannot sign: {0}")]
    Sign(String),
    #[error("the signature does not match the document")]
    BadSignature,
}

fn loader() -> &'static HashMap<IriBuf, RemoteDocument> {
    static LOADER: OnceLock<HashMap<IriBuf, RemoteDocument>> = OnceLock::new();
    LOADER.get_or_init(|| {
        CONTEXTS
            .iter()
            .map(|(url, text)| {
                let iri = IriBuf::new(url.to_string()).expect("a preloaded context's URL is an IRI");
                let (doc, _) = json_ld::syntax::Value::parse_str(text).expect("a preloaded context is JSON");
                (iri.clone(), RemoteDocument::new(Some(iri), None, doc))
            })
            .collect()
    })
}

/// The canonical N-Quads of a JSON-LD document (URDNA2015).
pub fn canonicalize(doc: &Value) -> Result<String, LdError> {
    let text = serde_json::to_string(doc).map_err(|e| LdError::Document(e.to_string()))?;
    let (value, _) = json_ld::syntax::Value::parse_str(&text).map_err(|e| LdError::Document(e.to_string()))?;
    let input = RemoteDocument::new(None, None, value);
    let mut generator = json_ld::rdf_types::generator::Blank::new();
    let mut rdf = futures_executor::block_on(input.to_rdf(&mut generator, loader()))
        .map_err(|e| LdError::Document(e.to_string()))?;
    let quads = rdf.cloned_quads().map(to_oxrdf).collect::<Result<Vec<_>, _>>()?;
    rdf_canon::canonicalize_quads(&quads).map_err(|e| LdError::Document(e.to_string()))
}

fn subject(id: ValidId) -> Result<oxrdf::Subject, LdError> {
    Ok(match id {
        ValidId::Iri(iri) => oxrdf::NamedNode::new(iri.as_str()).map_err(|e| LdError::Document(e.to_string()))?.into(),
        ValidId::Blank(b) => oxrdf::BlankNode::new(b.suffix()).map_err(|e| LdError::Document(e.to_string()))?.into(),
    })
}

fn to_oxrdf(q: json_ld::rdf_types::Quad<ValidId, ValidId, Term, ValidId>) -> Result<oxrdf::Quad, LdError> {
    let json_ld::rdf_types::Quad(s, p, o, g) = q;
    let bad = |e: &dyn std::fmt::Display| LdError::Document(e.to_string());
    // A blank-node predicate (a term the contexts leave undefined under `@vocab: "_:"`) is not
    // RDF: the expansion drops it, as jsonld.js does without generalized RDF.
    let ValidId::Iri(p) = p else {
        return Err(LdError::Document("a blank node as a predicate".into()));
    };
    let predicate = oxrdf::NamedNode::new(p.as_str()).map_err(|e| bad(&e))?;
    let object: oxrdf::Term = match o {
        Term::Id(id) => match subject(id)? {
            oxrdf::Subject::NamedNode(n) => n.into(),
            oxrdf::Subject::BlankNode(b) => b.into(),
        },
        Term::Literal(l) => match l.type_ {
            LiteralType::Any(t) => {
                let t = oxrdf::NamedNode::new(t.as_str()).map_err(|e| bad(&e))?;
                oxrdf::Literal::new_typed_literal(l.value, t).into()
            }
            LiteralType::LangString(lang) => {
                oxrdf::Literal::new_language_tagged_literal(l.value, lang.as_str()).map_err(|e| bad(&e))?.into()
            }
        },
    };
    let graph = match g {
        None => oxrdf::GraphName::DefaultGraph,
        Some(id) => match subject(id)? {
            oxrdf::Subject::NamedNode(n) => n.into(),
            oxrdf::Subject::BlankNode(b) => b.into(),
        },
    };
    Ok(oxrdf::Quad::new(subject(s)?, predicate, object, graph))
}

fn hash(doc: &Value) -> Result<String, LdError> {
    Ok(hex::encode(Sha256::digest(canonicalize(doc)?.as_bytes())))
}

/// What is signed: the options' hash then the document's (without its `signature`).
fn to_sign(doc: &Value, creator: &str, created: &str) -> Result<String, LdError> {
    let options = json!({
        "@context": ["https://w3id.org/security/v1", { "RsaSignature2017": "https://w3id.org/security#RsaSignature2017" }],
        "creator": creator,
        "created": created,
    });
    let mut doc = doc.clone();
    if let Some(o) = doc.as_object_mut() {
        o.remove("signature");
    }
    Ok(hash(&options)? + &hash(&doc)?)
}

/// The `signature` of `doc` by `creator` (a key id: the actor's URL or its `#main-key`) at
/// `created` (ISO 8601, as PeerTube writes it).
pub fn sign(doc: &Value, creator: &str, created: &str, key: &PrivateKey) -> Result<Value, LdError> {
    let data = to_sign(doc, creator, created)?;
    let sig = key.pkcs1v15_sign::<Sha256>(data.as_bytes()).map_err(|e| LdError::Sign(e.to_string()))?;
    Ok(json!({ "type": TYPE, "creator": creator, "created": created, "signatureValue": B64.encode(sig) }))
}

/// `doc` with its `signature` (made by [`sign`]) added.
pub fn signed(mut doc: Value, creator: &str, created: &str, key: &PrivateKey) -> Result<Value, LdError> {
    let signature = sign(&doc, creator, created, key)?;
    match doc.as_object_mut() {
        Some(o) => {
            o.insert("signature".into(), signature);
            Ok(doc)
        }
        None => Err(LdError::Document("not a JSON object".into())),
    }
}

/// The `creator` of a document's signature, if it has one of ours.
pub fn creator(doc: &Value) -> Option<&str> {
    let s = doc.get("signature")?;
    (s.get("type")?.as_str()? == TYPE).then_some(())?;
    s.get("creator")?.as_str()
}

/// Checks `doc`'s `RsaSignature2017` with its creator's key.
pub fn verify(doc: &Value, key: &PublicKey) -> Result<(), LdError> {
    let s = doc.get("signature").ok_or(LdError::Missing(TYPE))?;
    let field = |k: &str| s.get(k).and_then(Value::as_str);
    if field("type") != Some(TYPE) {
        return Err(LdError::Missing(TYPE));
    }
    let (Some(creator), Some(created), Some(value)) = (field("creator"), field("created"), field("signatureValue"))
    else {
        return Err(LdError::Missing(TYPE));
    };
    let sig = B64.decode(value.trim()).map_err(|_| LdError::BadSignature)?;
    let data = to_sign(doc, creator, created)?;
    key.pkcs1v15_verify::<Sha256>(data.as_bytes(), &sig).map_err(|_| LdError::BadSignature)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::keys;

    fn note() -> Value {
        json!({
            "@context": [
                "https://www.w3.org/ns/activitystreams",
                "https://w3id.org/security/v1",
                { "RsaSignature2017": "https://w3id.org/security#RsaSignature2017" },
                { "pt": "https://joinpeertube.org/ns#", "sc": "http://schema.org/", "replyApproval": "pt:replyApproval" }
            ],
            "type": "Create",
            "id": "https://a.example/videos/watch/1/comments/2/activity",
            "actor": "https://a.example/accounts/alice",
            "to": ["https://www.w3.org/ns/activitystreams#Public"],
            "cc": ["https://a.example/accounts/alice/followers"],
            "object": {
                "type": "Note",
                "id": "https://a.example/videos/watch/1/comments/2",
                "content": "Hello <b>\"world\"</b>\nline two é 😀",
                "inReplyTo": "https://b.example/videos/watch/1",
                "attributedTo": "https://a.example/accounts/alice",
                "published": "2026-12-04T15:00:00.000Z",
                "tag": [{ "type": "Mention", "href": "https://b.example/accounts/bob", "name": "@bob@b.example" }],
                "to": ["https://www.w3.org/ns/activitystreams#Public"]
            }
        })
    }

    #[test]
    fn canonical_form_is_sorted_n_quads_with_blank_nodes_relabelled() {
        let nq = canonicalize(&note()).unwrap();
        let lines: Vec<&str> = nq.lines().collect();
        let mut sorted = lines.clone();
        sorted.sort();
        assert_eq!(lines, sorted);
        assert!(nq.contains("<https://a.example/videos/watch/1/comments/2> <https://www.w3.org/ns/activitystreams#inReplyTo> <https://b.example/videos/watch/1> ."), "{nq}");
        assert!(nq.contains("_:c14n0 <http://www.w3.org/1999/02/22-rdf-syntax-ns#type> <https://www.w3.org/ns/activitystreams#Mention>"), "{nq}");
        assert!(nq.contains(r#""Hello <b>\"world\"</b>\nline two é 😀""#), "{nq}");
        // Key order and the JSON's spacing do not change it.
        let reordered: Value = serde_json::from_str(&serde_json::to_string_pretty(&note()).unwrap()).unwrap();
        assert_eq!(canonicalize(&reordered).unwrap(), nq);
    }

    #[test]
    fn a_signed_document_verifies_and_any_change_breaks_it() {
        let (private, public) = keys::generate().unwrap();
        let (k, p) = (keys::private_from_pem(&private).unwrap(), keys::public_from_pem(&public).unwrap());
        let doc = signed(note(), "https://a.example/accounts/alice", "2026-12-04T15:00:01.000Z", &k).unwrap();
        assert_eq!(creator(&doc), Some("https://a.example/accounts/alice"));
        verify(&doc, &p).unwrap();
        let mut changed = doc.clone();
        changed["object"]["content"] = json!("Hello world");
        assert!(matches!(verify(&changed, &p), Err(LdError::BadSignature)));
        let mut redated = doc.clone();
        redated["signature"]["created"] = json!("2026-12-05T15:00:01.000Z");
        assert!(matches!(verify(&redated, &p), Err(LdError::BadSignature)));
        let (_, other) = keys::generate().unwrap();
        assert!(matches!(verify(&doc, &keys::public_from_pem(&other).unwrap()), Err(LdError::BadSignature)));
        let mut unsigned = doc.clone();
        unsigned.as_object_mut().unwrap().remove("signature");
        assert!(matches!(verify(&unsigned, &p), Err(LdError::Missing(_))));
    }

    #[test]
    fn options_hash_the_same_with_the_identity_context_mastodon_uses() {
        let opts = |ctx: &str| json!({ "@context": ctx, "creator": "https://a.example/accounts/alice#main-key", "created": "2026-12-04T15:00:01.000Z" });
        let a = canonicalize(&opts("https://w3id.org/security/v1")).unwrap();
        assert_eq!(a, canonicalize(&opts("https://w3id.org/identity/v1")).unwrap());
        assert!(a.contains("<http://purl.org/dc/terms/creator> <https://a.example/accounts/alice#main-key>"), "{a}");
    }

    #[test]
    fn a_context_we_do_not_hold_is_refused_not_fetched() {
        let doc = json!({ "@context": "https://evil.example/context", "type": "Note" });
        assert!(matches!(canonicalize(&doc), Err(LdError::Document(_))));
    }
}
