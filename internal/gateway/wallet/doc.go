// Package wallet keeps the gateway's custodial signing keys: one private key
// and certificate per bound user (enrollment ID), encrypted at rest, from
// which the gateway signs that user's proposals and envelopes.
//
// # Encryption
//
// Each record is sealed with envelope encryption: a fresh random 256-bit
// data key encrypts the PKCS#8 private key with AES-256-GCM, and a
// key-encryption key (KEK) seals the data key. The KEK is either a 256-bit
// AES key from configuration (a file of mode 0600, or an environment
// variable; see LoadKEKFile and KEKFromEnv) or an AES key that never leaves
// a PKCS#11 token (NewPKCS11KEK). Both the data key and the private key are
// bound to the record's enrollment ID as additional authenticated data, so
// a record copied under another user's name does not decrypt.
//
// A wallet remembers which KEK it was created with: Open seals a check
// value on first use and refuses, with ErrWrongKEK, to open the wallet under
// any other KEK, so a misconfigured gateway fails at start instead of at its
// first signature.
//
// # Storage
//
// Records live in a Pebble database in the wallet's directory (mode 0700);
// the database holds only ciphertext, certificates and key identifiers.
//
// # Secrets
//
// Private keys are never returned: Signer hands back an identity.Signer
// that signs with the decrypted key, and nothing in this package logs or
// formats a key, a data key or a KEK. Errors name enrollment IDs only.
package wallet
