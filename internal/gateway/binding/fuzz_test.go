package binding

import "testing"

func FuzzDecodeRecord(f *testing.F) {
	f.Add([]byte(`{"issuer":"https://idp","subject":"s","enrollmentId":"u1","type":"client","role":"r","serial":"ab","status":"active","revoked":false,"createdAt":"2026-01-01T00:00:00Z","updatedAt":"2026-01-01T00:00:00Z"}`))
	f.Add([]byte(`{"issuer":1}`))
	f.Add([]byte(`{} {}`))
	f.Add([]byte(`{"unknown":true}`))
	f.Fuzz(func(t *testing.T, data []byte) {
		var b Binding
		if err := decodeRecord(data, &b); err != nil {
			return
		}
		var a Approval
		_ = decodeRecord(data, &a)
	})
}
