package asset

import (
	"fmt"
	"strings"
	"testing"
)

func TestValidateSWID(t *testing.T) {
	const ns = `xmlns="http://standards.iso.org/iso/19770/-2/2015/schema.xsd"`
	big := `<SoftwareIdentity tagId="t" name="n" version="1">` + strings.Repeat("<Meta/>", MaxSWIDSize/7) + `</SoftwareIdentity>`
	deep := `<SoftwareIdentity tagId="t" name="n" version="1">` + strings.Repeat("<a>", 70) + strings.Repeat("</a>", 70) + `</SoftwareIdentity>`
	for _, c := range []struct {
		name, primaryTag, doc string
		want                  string // "" = valid
	}{
		{"minimal", "t", `<SoftwareIdentity tagId="t" name="n" version="1"/>`, ""},
		{"ISO namespace, declaration, BOM, children", "acme-office-16", "\ufeff<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<SoftwareIdentity " + ns +
			` tagId="acme-office-16" name="Office" version="16.0" versionScheme="multipartnumeric"><Entity name="Acme" role="tagCreator softwareCreator"/><!-- c --></SoftwareIdentity>` + "\n", ""},
		{"prefixed root", "t", `<swid:SoftwareIdentity xmlns:swid="urn:x" tagId="t" name="n" version="1"></swid:SoftwareIdentity>`, ""},
		{"pointer", "t", "https://example.com/t.swidtag", "xml must be the SoftwareIdentity document itself, not a pointer to it"},
		{"file name", "t", "swidtags/t.swidtag", "xml must be the SoftwareIdentity document itself, not a pointer to it"},
		{"wrong root", "t", `<Software tagId="t" name="n" version="1"/>`, "the root element is Software, not SoftwareIdentity"},
		{"no tagId", "t", `<SoftwareIdentity name="n" version="1"/>`, "SoftwareIdentity has no tagId"},
		{"blank name", "t", `<SoftwareIdentity tagId="t" name="  " version="1"/>`, "SoftwareIdentity has no name"},
		{"no version", "t", `<SoftwareIdentity tagId="t" name="n"/>`, "SoftwareIdentity has no version"},
		{"namespaced tagId does not count", "t", `<SoftwareIdentity xmlns:x="urn:x" x:tagId="t" name="n" version="1"/>`, "SoftwareIdentity has no tagId"},
		{"primaryTag differs", "T", `<SoftwareIdentity tagId="t" name="n" version="1"/>`, "primaryTag T does not equal the tagId t"},
		{"unclosed", "t", `<SoftwareIdentity tagId="t" name="n" version="1">`, "xml is not well-formed: XML syntax error on line 1: unexpected EOF"},
		{"mismatched", "t", `<SoftwareIdentity tagId="t" name="n" version="1"><a></b></SoftwareIdentity>`, "xml is not well-formed: XML syntax error on line 1: element <a> closed by </b>"},
		{"two roots", "t", `<SoftwareIdentity tagId="t" name="n" version="1"/><SoftwareIdentity tagId="t" name="n" version="1"/>`, "xml has more than one root element"},
		{"trailing text", "t", `<SoftwareIdentity tagId="t" name="n" version="1"/>x`, "xml has text outside the root element"},
		{"doctype", "t", `<!DOCTYPE x [<!ENTITY e "e">]><SoftwareIdentity tagId="t" name="n" version="1"/>`, "xml declarations such as DOCTYPE are not allowed"},
		{"undeclared entity", "t", `<SoftwareIdentity tagId="&e;" name="n" version="1"/>`, "xml is not well-formed: XML syntax error on line 1: invalid character entity &e;"},
		{"latin-1", "t", `<?xml version="1.0" encoding="ISO-8859-1"?><SoftwareIdentity tagId="t" name="n" version="1"/>`,
			`xml is not well-formed: xml: encoding "ISO-8859-1" declared but Decoder.CharsetReader is nil`},
		{"too deep", "t", deep, "xml nests elements more than 64 deep"},
		{"too large", "t", big, fmt.Sprintf("xml is %d bytes long (at most 1048576)", len(big))},
	} {
		t.Run(c.name, func(t *testing.T) {
			err := ValidateSWID(c.primaryTag, c.doc)
			switch {
			case c.want == "" && err != nil:
				t.Fatalf("refused: %v", err)
			case c.want != "" && (err == nil || err.Error() != "invalid SWID tag: "+c.want):
				t.Fatalf("got %v, want %q", err, "invalid SWID tag: "+c.want)
			}
		})
	}
}
