//! The subset of XML-DSig the RIMs use: enveloped signatures, Canonical XML 1.1 without comments
//! (inclusive, `http://www.w3.org/2006/12/xml-c14n11`), ECDSA P-384 with SHA-384 (raw `r‖s`
//! SignatureValue, XML-DSig 1.1 §6.4.3), an `X509Data` chain in `KeyInfo` (gpu.md §4.1).
//!
//! Canonicalisation (W3C C14N 1.1 §2): the document is read with `roxmltree` (which normalises line
//! ends and attribute values and expands references, as the XPath data model requires); elements are
//! written as start/end tag pairs; namespace declarations are written where they are not already in
//! scope with the same value in the output parent (all in-scope ones on the apex of a subset), sorted
//! by prefix; attributes are sorted by namespace URI then local name; text and attribute values are
//! escaped as §2.3 says; comments are dropped. Prefixes are taken from the source text, since two
//! prefixes can name the same URI (NVIDIA's RIMs declare `ns2` and `SHA384` for one URI).
//! This subset is what the real NVIDIA RIMs and this project's RIMs need; `xml:*` attribute
//! inheritance on a subset apex (C14N 1.1 §2.4) is not implemented (no RIM uses `xml:` attributes).

use std::collections::BTreeMap;

use base64::Engine;
use roxmltree::{Document, Node, NodeId};
use sha2::{Digest, Sha384};

/// XML-DSig namespace.
pub const DSIG_NS: &str = "http://www.w3.org/2000/09/xmldsig#";
/// Canonical XML 1.1 (without comments).
pub const C14N11: &str = "http://www.w3.org/2006/12/xml-c14n11";
/// Canonical XML 1.0 (without comments): the same output for documents without `xml:` attributes.
pub const C14N10: &str = "http://www.w3.org/TR/2001/REC-xml-c14n-20010315";
/// Enveloped-signature transform.
pub const ENVELOPED: &str = "http://www.w3.org/2000/09/xmldsig#enveloped-signature";
/// ECDSA with SHA-384.
pub const ECDSA_SHA384: &str = "http://www.w3.org/2001/04/xmldsig-more#ecdsa-sha384";
/// SHA-384 digest (xmldsig-more).
pub const SHA384_MORE: &str = "http://www.w3.org/2001/04/xmldsig-more#sha384";
/// SHA-384 digest (xmlenc), also accepted.
pub const SHA384_ENC: &str = "http://www.w3.org/2001/04/xmlenc#sha384";

/// Why an XML signature does not verify.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum DsigError {
    /// The XML does not parse.
    #[error("XML: {0}")]
    Xml(String),
    /// An element the signature needs is missing.
    #[error("missing {0}")]
    Missing(&'static str),
    /// An algorithm this subset does not implement (or a wrong one).
    #[error("unsupported {what}: {uri}")]
    Unsupported {
        /// Which algorithm slot.
        what: &'static str,
        /// The URI found.
        uri: String,
    },
    /// Base64 content does not decode.
    #[error("base64 in {0}")]
    Base64(&'static str),
    /// The reference digest differs.
    #[error("DigestValue mismatch: document digest {computed}, signed {signed}")]
    Digest {
        /// Digest computed over the canonical document.
        computed: String,
        /// DigestValue in SignedInfo.
        signed: String,
    },
    /// The SignatureValue does not verify under the signer key.
    #[error("SignatureValue does not verify: {0}")]
    Signature(String),
}

fn attr_escape(s: &str, out: &mut String) {
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '"' => out.push_str("&quot;"),
            '\t' => out.push_str("&#x9;"),
            '\n' => out.push_str("&#xA;"),
            '\r' => out.push_str("&#xD;"),
            c => out.push(c),
        }
    }
}

fn text_escape(s: &str, out: &mut String) {
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '\r' => out.push_str("&#xD;"),
            c => out.push(c),
        }
    }
}

fn in_scope(node: Node<'_, '_>) -> BTreeMap<String, String> {
    let mut m = BTreeMap::new();
    for ns in node.namespaces() {
        let p = ns.name().unwrap_or("");
        if p == "xml" {
            continue;
        }
        m.insert(p.to_string(), ns.uri().to_string());
    }
    m
}

fn element_qname<'a>(doc: &'a Document<'_>, node: Node<'_, '_>) -> &'a str {
    let text = doc.input_text();
    let start = node.range().start + 1;
    let rest = text.get(start..).unwrap_or("");
    let end = rest
        .find(|c: char| c.is_whitespace() || c == '/' || c == '>')
        .unwrap_or(rest.len());
    &rest[..end]
}

fn render(
    doc: &Document<'_>,
    node: Node<'_, '_>,
    parent_ns: &BTreeMap<String, String>,
    exclude: Option<NodeId>,
    out: &mut String,
) {
    if Some(node.id()) == exclude {
        return;
    }
    if node.is_text() {
        text_escape(node.text().unwrap_or(""), out);
        return;
    }
    if !node.is_element() {
        return; // comments and PIs inside the root: comments dropped; RIMs carry no PIs
    }
    let qname = element_qname(doc, node);
    out.push('<');
    out.push_str(qname);
    let ns = in_scope(node);
    // Default namespace first, then prefixes in order (BTreeMap orders "" first).
    if parent_ns.get("").is_some_and(|u| !u.is_empty()) && !ns.contains_key("") {
        out.push_str(" xmlns=\"\"");
    }
    for (p, u) in &ns {
        if parent_ns.get(p) != Some(u) {
            if p.is_empty() {
                if u.is_empty() && parent_ns.get("").is_none_or(|v| v.is_empty()) {
                    continue;
                }
                out.push_str(" xmlns=\"");
            } else {
                out.push_str(" xmlns:");
                out.push_str(p);
                out.push_str("=\"");
            }
            attr_escape(u, out);
            out.push('"');
        }
    }
    let text = doc.input_text();
    let mut attrs: Vec<(&str, &str, &str, &str)> = node
        .attributes()
        .map(|a| {
            let q = text.get(a.range_qname()).unwrap_or(a.name());
            (a.namespace().unwrap_or(""), a.name(), q, a.value())
        })
        .collect();
    attrs.sort_by(|x, y| (x.0, x.1).cmp(&(y.0, y.1)));
    for (_, _, q, v) in attrs {
        out.push(' ');
        out.push_str(q);
        out.push_str("=\"");
        attr_escape(v, out);
        out.push('"');
    }
    out.push('>');
    for c in node.children() {
        render(doc, c, &ns, exclude, out);
    }
    out.push_str("</");
    out.push_str(qname);
    out.push('>');
}

/// Canonical XML 1.1 (without comments) of the subtree at `apex`, leaving out the subtree `exclude`
/// (the enveloped signature). For the document element this is the canonical form of the document
/// (the RIMs have nothing outside it but whitespace).
pub fn canonicalize(doc: &Document<'_>, apex: Node<'_, '_>, exclude: Option<NodeId>) -> String {
    let mut out = String::new();
    render(doc, apex, &BTreeMap::new(), exclude, &mut out);
    out
}

fn child<'a, 'i>(n: Node<'a, 'i>, name: &'static str) -> Result<Node<'a, 'i>, DsigError> {
    n.children()
        .find(|c| {
            c.is_element()
                && c.tag_name().name() == name
                && c.tag_name().namespace() == Some(DSIG_NS)
        })
        .ok_or(DsigError::Missing(name))
}

fn b64(s: &str, what: &'static str) -> Result<Vec<u8>, DsigError> {
    let clean: String = s.chars().filter(|c| !c.is_whitespace()).collect();
    base64::engine::general_purpose::STANDARD
        .decode(clean)
        .map_err(|_| DsigError::Base64(what))
}

fn algorithm<'a>(n: Node<'a, '_>) -> &'a str {
    n.attribute("Algorithm").unwrap_or("")
}

/// What a verified enveloped signature tells.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SignatureInfo {
    /// The DER certificates of `KeyInfo/X509Data`, signer first.
    pub certs: Vec<Vec<u8>>,
    /// The reference digest (SHA-384 of the canonical document without the signature).
    pub digest: [u8; 48],
}

/// The `X509Certificate`s of the document's signature, signer first, without verifying anything.
pub fn signature_certs(xml: &str) -> Result<Vec<Vec<u8>>, DsigError> {
    let doc = Document::parse(xml).map_err(|e| DsigError::Xml(e.to_string()))?;
    let sig = child(doc.root_element(), "Signature")?;
    let data = child(child(sig, "KeyInfo")?, "X509Data")?;
    data.children()
        .filter(|c| c.is_element() && c.tag_name().name() == "X509Certificate")
        .map(|c| b64(c.text().unwrap_or(""), "X509Certificate"))
        .collect()
}

/// Verifies the enveloped signature of `xml` (a child `ds:Signature` of the document element) with the
/// key of the first `X509Certificate` of its `KeyInfo`. The certificate chain is left to the caller
/// ([`SignatureInfo::certs`]).
pub fn verify_enveloped(xml: &str) -> Result<SignatureInfo, DsigError> {
    let doc = Document::parse(xml).map_err(|e| DsigError::Xml(e.to_string()))?;
    let root = doc.root_element();
    let sig = child(root, "Signature")?;
    let si = child(sig, "SignedInfo")?;
    let cm = algorithm(child(si, "CanonicalizationMethod")?);
    if cm != C14N11 && cm != C14N10 {
        return Err(DsigError::Unsupported {
            what: "CanonicalizationMethod",
            uri: cm.into(),
        });
    }
    let sm = algorithm(child(si, "SignatureMethod")?);
    if sm != ECDSA_SHA384 {
        return Err(DsigError::Unsupported {
            what: "SignatureMethod",
            uri: sm.into(),
        });
    }
    let refs: Vec<Node> = si
        .children()
        .filter(|c| c.is_element() && c.tag_name().name() == "Reference")
        .collect();
    let [reference] = refs.as_slice() else {
        return Err(DsigError::Unsupported {
            what: "Reference count",
            uri: refs.len().to_string(),
        });
    };
    if reference.attribute("URI") != Some("") {
        return Err(DsigError::Unsupported {
            what: "Reference URI",
            uri: reference.attribute("URI").unwrap_or("(none)").into(),
        });
    }
    let mut enveloped = false;
    if let Ok(ts) = child(*reference, "Transforms") {
        for t in ts.children().filter(|c| c.is_element()) {
            match algorithm(t) {
                ENVELOPED => enveloped = true,
                C14N11 | C14N10 => {}
                other => {
                    return Err(DsigError::Unsupported {
                        what: "Transform",
                        uri: other.into(),
                    })
                }
            }
        }
    }
    if !enveloped {
        return Err(DsigError::Missing("enveloped-signature transform"));
    }
    let dm = algorithm(child(*reference, "DigestMethod")?);
    if dm != SHA384_MORE && dm != SHA384_ENC {
        return Err(DsigError::Unsupported {
            what: "DigestMethod",
            uri: dm.into(),
        });
    }
    let signed_digest = b64(
        child(*reference, "DigestValue")?.text().unwrap_or(""),
        "DigestValue",
    )?;
    let canon = canonicalize(&doc, root, Some(sig.id()));
    let digest: [u8; 48] = Sha384::digest(canon.as_bytes()).into();
    if signed_digest != digest {
        return Err(DsigError::Digest {
            computed: hex::encode(digest),
            signed: hex::encode(&signed_digest),
        });
    }
    let sv = b64(
        child(sig, "SignatureValue")?.text().unwrap_or(""),
        "SignatureValue",
    )?;
    let certs = signature_certs(xml)?;
    let leaf = certs.first().ok_or(DsigError::Missing("X509Certificate"))?;
    let si_c14n = canonicalize(&doc, si, None);
    verify_p384_raw(leaf, si_c14n.as_bytes(), &sv).map_err(DsigError::Signature)?;
    Ok(SignatureInfo { certs, digest })
}

/// Verifies a raw `r‖s` ECDSA P-384/SHA-384 signature over `msg` with the key of certificate `cert_der`.
pub fn verify_p384_raw(cert_der: &[u8], msg: &[u8], sig: &[u8]) -> Result<(), String> {
    use der::Decode;
    use signature::Verifier;
    let cert = x509_cert::Certificate::from_der(cert_der).map_err(|e| e.to_string())?;
    let key = cert
        .tbs_certificate
        .subject_public_key_info
        .subject_public_key
        .raw_bytes();
    let vk = p384::ecdsa::VerifyingKey::from_sec1_bytes(key).map_err(|e| e.to_string())?;
    let s = p384::ecdsa::Signature::from_slice(sig).map_err(|e| e.to_string())?;
    vk.verify(msg, &s).map_err(|e| e.to_string())
}

/// Signs `xml` (a document without a signature) with an enveloped XML-DSig signature: C14N 1.1,
/// ecdsa-sha384, raw `r‖s`, `KeyInfo` carrying `certs_der` (signer first). The signature is appended
/// as the last child of the document element, after a newline, as NVIDIA's RIMs have it.
pub fn sign_enveloped(
    xml: &str,
    key: &p384::ecdsa::SigningKey,
    certs_der: &[Vec<u8>],
) -> Result<String, DsigError> {
    use signature::Signer;
    let close = xml
        .rfind("</")
        .ok_or(DsigError::Missing("document element end tag"))?;
    let doc = Document::parse(xml).map_err(|e| DsigError::Xml(e.to_string()))?;
    let digest = Sha384::digest(canonicalize(&doc, doc.root_element(), None).as_bytes());
    let e = &base64::engine::general_purpose::STANDARD;
    let signed_info = format!(
        "<ds:SignedInfo><ds:CanonicalizationMethod Algorithm=\"{C14N11}\"/><ds:SignatureMethod Algorithm=\"{ECDSA_SHA384}\"/><ds:Reference URI=\"\"><ds:Transforms><ds:Transform Algorithm=\"{ENVELOPED}\"/><ds:Transform Algorithm=\"{C14N11}\"/></ds:Transforms><ds:DigestMethod Algorithm=\"{SHA384_MORE}\"/><ds:DigestValue>{}</ds:DigestValue></ds:Reference></ds:SignedInfo>",
        e.encode(digest)
    );
    let mut certs = String::new();
    for c in certs_der {
        certs.push_str("<ds:X509Certificate>");
        let b = e.encode(c);
        for chunk in b.as_bytes().chunks(64) {
            certs.push_str(std::str::from_utf8(chunk).unwrap_or(""));
            certs.push('\n');
        }
        certs.push_str("</ds:X509Certificate>");
    }
    // Canonicalise SignedInfo in its final context: build the signed document with an empty
    // SignatureValue, then canonicalise the SignedInfo element found in it.
    let skeleton = |sv: &str| {
        format!(
            "{}\n<ds:Signature xmlns:ds=\"{DSIG_NS}\">{signed_info}<ds:SignatureValue>{sv}</ds:SignatureValue><ds:KeyInfo><ds:X509Data>{certs}</ds:X509Data></ds:KeyInfo></ds:Signature>{}",
            xml[..close].trim_end(),
            &xml[close..]
        )
    };
    let draft = skeleton("");
    let ddoc = Document::parse(&draft).map_err(|e| DsigError::Xml(e.to_string()))?;
    let sig = child(ddoc.root_element(), "Signature")?;
    let si = child(sig, "SignedInfo")?;
    let si_c14n = canonicalize(&ddoc, si, None);
    let s: p384::ecdsa::Signature = key.sign(si_c14n.as_bytes());
    Ok(skeleton(&e.encode(s.to_bytes())))
}
