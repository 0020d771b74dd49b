//! Reference Integrity Manifests: NVIDIA's SWID (ISO/IEC 19770-2:2015) XML with TCG RIM attributes,
//! one `Resource` per measurement index, signed with an enveloped XML-DSig (gpu.md §4).

use std::fmt::Write as _;

use roxmltree::Document;

/// SWID namespace.
pub const SWID_NS: &str = "http://standards.iso.org/iso/19770/-2/2015/schema.xsd";
/// Namespace of the `HashN` attributes.
pub const HASH_NS: &str = "http://www.w3.org/2001/04/xmlenc#sha384";
/// TCG RIM information-model namespace of the `Meta` attributes.
pub const RIM_NS: &str =
    "https://trustedcomputinggroup.org/resource/tcg-reference-integrity-manifest-rim-information-model/";

/// Which firmware a RIM describes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum RimKind {
    /// The driver RIM (GSP firmware and driver configuration).
    Driver,
    /// The VBIOS RIM (FSP firmware).
    Vbios,
}

impl RimKind {
    /// NVAT's `measurementSource` name.
    pub fn source(self) -> &'static str {
        match self {
            RimKind::Driver => "Driver",
            RimKind::Vbios => "Firmware",
        }
    }
}

/// Driver RIM id on Hopper: `NV_GPU_DRIVER_GH100_<driver version>` (gpu.md §4.4).
pub fn driver_rim_id(driver_version: &str) -> String {
    format!("NV_GPU_DRIVER_GH100_{driver_version}")
}

/// VBIOS RIM id: `NV_GPU_VBIOS_<PROJECT>_<PROJECT_SKU>_<CHIP_SKU>_<VBIOS without dots, upper case>`.
pub fn vbios_rim_id(project: &str, project_sku: &str, chip_sku: &str, vbios: &str) -> String {
    format!(
        "NV_GPU_VBIOS_{project}_{project_sku}_{chip_sku}_{}",
        vbios.replace('.', "").to_uppercase()
    )
}

/// The (driver, VBIOS) RIM ids a verifier fetches for a report, from its opaque data (driver version;
/// PROJECT, PROJECT_SKU, CHIP_SKU and VBIOS version).
pub fn rim_ids(report: &crate::layout::Report) -> (String, String) {
    use crate::layout::OpaqueType;
    let o = &report.response.opaque;
    let driver = driver_rim_id(&o.driver_version().unwrap_or_default());
    let vbios = vbios_rim_id(
        &o.ascii(OpaqueType::PROJECT).unwrap_or_default(),
        &o.ascii(OpaqueType::PROJECT_SKU).unwrap_or_default(),
        &o.ascii(OpaqueType::CHIP_SKU).unwrap_or_default(),
        &o.vbios_version().unwrap_or_default(),
    );
    (driver, vbios)
}

/// One `Resource` of the payload.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Resource {
    /// `index`: RIM index i, compared with SPDM block i + 1.
    pub index: u32,
    /// `active`: only active resources are compared.
    pub active: bool,
    /// `HashN` values, lower-case hex (`alternatives` of them).
    pub hashes: Vec<String>,
    /// `name`.
    pub name: String,
    /// `size` in bytes.
    pub size: u32,
}

/// A RIM's content.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Rim {
    /// `SoftwareIdentity/@tagId`.
    pub tag_id: String,
    /// `Meta/@colloquialVersion`: the driver version or the VBIOS version (upper case, dotted).
    pub colloquial_version: String,
    /// `Meta/@product`.
    pub product: String,
    /// `Meta/@FirmwareManufacturerId` (NVIDIA's IANA number 5703).
    pub manufacturer_id: String,
    /// Resources in document order.
    pub resources: Vec<Resource>,
}

/// Why a RIM does not parse or fails the schema subset.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("RIM {what}: {detail}")]
pub struct RimError {
    /// What was wrong.
    pub what: &'static str,
    /// Detail.
    pub detail: String,
}

fn err(what: &'static str, detail: impl Into<String>) -> RimError {
    RimError {
        what,
        detail: detail.into(),
    }
}

impl Rim {
    /// Parses a RIM and checks the structure NVIDIA's schema (swidSchema2015.xsd) requires of the
    /// parts verifiers read: a `SoftwareIdentity` root with `name` and `tagId`, an `Entity`, a `Meta`
    /// with `colloquialVersion`, a `Payload` whose `Resource`s have integer `index`, `True`/`False`
    /// `active`, integer `alternatives` and `size`, and `Hash0..Hash{alternatives-1}` in hex.
    pub fn parse(xml: &str) -> Result<Rim, RimError> {
        let doc = Document::parse(xml).map_err(|e| err("XML", e.to_string()))?;
        let root = doc.root_element();
        if root.tag_name().namespace() != Some(SWID_NS)
            || root.tag_name().name() != "SoftwareIdentity"
        {
            return Err(err(
                "schema",
                "document element is not swid:SoftwareIdentity",
            ));
        }
        let tag_id = root
            .attribute("tagId")
            .ok_or_else(|| err("schema", "SoftwareIdentity without tagId"))?
            .to_string();
        root.attribute("name")
            .ok_or_else(|| err("schema", "SoftwareIdentity without name"))?;
        let el = |name: &'static str| {
            root.children()
                .find(|c| {
                    c.is_element()
                        && c.tag_name().namespace() == Some(SWID_NS)
                        && c.tag_name().name() == name
                })
                .ok_or_else(|| err("schema", format!("missing {name}")))
        };
        el("Entity")?;
        let meta = el("Meta")?;
        let payload = el("Payload")?;
        let colloquial_version = meta
            .attribute("colloquialVersion")
            .ok_or_else(|| err("schema", "Meta without colloquialVersion"))?
            .to_string();
        let product = meta.attribute("product").unwrap_or("").to_string();
        let manufacturer_id = meta
            .attribute((RIM_NS, "FirmwareManufacturerId"))
            .unwrap_or("")
            .to_string();
        let mut resources = Vec::new();
        for r in payload.children().filter(|c| c.is_element()) {
            if r.tag_name().name() != "Resource" {
                return Err(err(
                    "schema",
                    format!("unexpected {} in Payload", r.tag_name().name()),
                ));
            }
            let num = |a: &str| -> Result<u32, RimError> {
                r.attribute(a)
                    .ok_or_else(|| err("schema", format!("Resource without {a}")))?
                    .parse::<u32>()
                    .map_err(|_| err("schema", format!("Resource {a} is not an integer")))
            };
            let index = num("index")?;
            let alternatives = num("alternatives")?;
            let size = num("size")?;
            let active = match r.attribute("active") {
                Some("True") | Some("true") => true,
                Some("False") | Some("false") => false,
                other => return Err(err("schema", format!("Resource {index} active={other:?}"))),
            };
            let mut hashes = Vec::new();
            for i in 0..alternatives {
                let name = format!("Hash{i}");
                let h = r
                    .attribute((HASH_NS, name.as_str()))
                    .ok_or_else(|| err("schema", format!("Resource {index} without {name}")))?;
                if !h.bytes().all(|b| b.is_ascii_hexdigit()) {
                    return Err(err("schema", format!("Resource {index} {name} is not hex")));
                }
                hashes.push(h.to_string());
            }
            resources.push(Resource {
                index,
                active,
                hashes,
                name: r.attribute("name").unwrap_or("").to_string(),
                size,
            });
        }
        Ok(Rim {
            tag_id,
            colloquial_version,
            product,
            manufacturer_id,
            resources,
        })
    }

    /// The unsigned SWID document, laid out as NVIDIA's RIMs are (namespaces, attribute order,
    /// four-space indentation). Attribute values are escaped.
    pub fn to_xml(&self) -> String {
        let esc = |v: &str| {
            v.replace('&', "&amp;")
                .replace('<', "&lt;")
                .replace('"', "&quot;")
        };
        let e = Rim {
            tag_id: esc(&self.tag_id),
            colloquial_version: esc(&self.colloquial_version),
            product: esc(&self.product),
            manufacturer_id: esc(&self.manufacturer_id),
            resources: self
                .resources
                .iter()
                .map(|r| Resource {
                    hashes: r.hashes.iter().map(|h| esc(h)).collect(),
                    name: esc(&r.name),
                    ..r.clone()
                })
                .collect(),
        };
        let this = &e;
        let mut s = String::new();
        let _ = writeln!(
            s,
            "<SoftwareIdentity xmlns=\"{SWID_NS}\" xmlns:ns0=\"{SWID_NS}\" xmlns:ns2=\"{HASH_NS}\" corpus=\"false\" name=\"{}\" patch=\"false\" supplemental=\"false\" tagId=\"{}\" version=\"1.0\" tagVersion=\"0\">",
            this.product, this.tag_id
        );
        s.push_str(
            "    <ns0:Entity name=\"NVIDIA Corporation\" role=\"softwareCreator tagCreator\"/>\n",
        );
        let _ = writeln!(
            s,
            "    <ns0:Meta xmlns:ns1=\"{RIM_NS}\" colloquialVersion=\"{}\" edition=\"GPU\" product=\"{}\" revision=\"r1\" PayloadType=\"direct\" ns1:BindingSpec=\"RIMIM\" ns1:BindingSpecVersion=\"1.01\" ns1:PlatformManufacturerId=\"{m}\" ns1:PlatformManufacturerStr=\"NVIDIA Corporation\" ns1:PlatformModel=\"{}\" ns1:FirmwareManufacturer=\"NVIDIA Corporation\" ns1:FirmwareManufacturerId=\"{m}\"/>",
            this.colloquial_version, this.product, this.product, m = this.manufacturer_id
        );
        let _ = writeln!(s, "    <ns0:Payload xmlns:SHA384=\"{HASH_NS}\">");
        for r in &this.resources {
            let _ = write!(
                s,
                "        <ns0:Resource type=\"Measurement\" index=\"{}\" active=\"{}\" alternatives=\"{}\"",
                r.index,
                if r.active { "True" } else { "False" },
                r.hashes.len()
            );
            for (i, h) in r.hashes.iter().enumerate() {
                let _ = write!(s, " ns2:Hash{i}=\"{h}\"");
            }
            let _ = writeln!(s, " name=\"{}\" size=\"{}\"/>", r.name, r.size);
        }
        s.push_str("    </ns0:Payload>\n</SoftwareIdentity>\n");
        s
    }

    /// Active resources.
    pub fn active(&self) -> impl Iterator<Item = &Resource> {
        self.resources.iter().filter(|r| r.active)
    }
}
