// Package notify delivers the outbox: signed webhooks (Standard Webhooks
// 1.0) through a client that refuses private targets, and e-mail. It reads
// and records through planning's interfaces only.
package notify

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"strconv"
	"strings"
	"time"
)

// Sign returns the webhook-signature header value for one message: a
// space-separated "v1,<base64 HMAC-SHA256>" per secret, over
// "<id>.<timestamp>.<body>". secrets are "whsec_" + base64 keys.
func Sign(secrets []string, id string, ts time.Time, body []byte) (string, error) {
	var sigs []string
	for _, s := range secrets {
		key, err := base64.StdEncoding.DecodeString(strings.TrimPrefix(s, "whsec_"))
		if err != nil {
			return "", errors.New("webhook secret is not whsec_ base64")
		}
		mac := hmac.New(sha256.New, key)
		mac.Write([]byte(id + "." + strconv.FormatInt(ts.Unix(), 10) + "."))
		mac.Write(body)
		sigs = append(sigs, "v1,"+base64.StdEncoding.EncodeToString(mac.Sum(nil)))
	}
	return strings.Join(sigs, " "), nil
}
