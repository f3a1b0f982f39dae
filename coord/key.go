package coord

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
)

// MinSecretBytes is the shortest deployment secret Key accepts callers to
// use; the adapters refuse shorter ones.
const MinSecretBytes = 16

// Key returns HMAC-SHA256, keyed with the deployment's secret, of the test
// type and both texts (each preceded by its length, so no two inputs
// share a message), in hex. Without the secret a stored key cannot be
// checked against guessed texts.
func Key(secret []byte, testType, prompt, response string) string {
	m := hmac.New(sha256.New, secret)
	var n [8]byte
	for _, s := range [3]string{testType, prompt, response} {
		binary.BigEndian.PutUint64(n[:], uint64(len(s)))
		m.Write(n[:])
		m.Write([]byte(s))
	}
	return hex.EncodeToString(m.Sum(nil))
}
