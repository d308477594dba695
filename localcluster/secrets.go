package localcluster

import (
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"encoding/hex"
	"encoding/pem"
	"fmt"
	"os"
	"path/filepath"
)

// Identity of the admin user in tokens.csv.
const (
	adminUser  = "localcluster-admin"
	adminGroup = "system:masters"
)

// writeServiceAccountKeys generates the RSA key pair kube-apiserver signs and
// verifies service-account tokens with, and writes it to dir as sa.key
// (PKCS #1) and sa.pub (PKIX). It returns both paths.
func writeServiceAccountKeys(dir string) (keyPath, pubPath string, err error) {
	key, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		return "", "", fmt.Errorf("localcluster: generating the service-account key: %w", err)
	}
	pub, err := x509.MarshalPKIXPublicKey(&key.PublicKey)
	if err != nil {
		return "", "", fmt.Errorf("localcluster: encoding the service-account public key: %w", err)
	}
	keyPath = filepath.Join(dir, "sa.key")
	pubPath = filepath.Join(dir, "sa.pub")
	keyPEM := pem.EncodeToMemory(&pem.Block{Type: "RSA PRIVATE KEY", Bytes: x509.MarshalPKCS1PrivateKey(key)})
	pubPEM := pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: pub})
	if err := os.WriteFile(keyPath, keyPEM, 0o600); err != nil {
		return "", "", fmt.Errorf("localcluster: writing %s: %w", keyPath, err)
	}
	if err := os.WriteFile(pubPath, pubPEM, 0o644); err != nil {
		return "", "", fmt.Errorf("localcluster: writing %s: %w", pubPath, err)
	}
	return keyPath, pubPath, nil
}

// writeTokenFile writes a static token file for kube-apiserver's
// --token-auth-file with a random token for the admin user, a member of
// system:masters. It returns the path and the token.
func writeTokenFile(dir string) (path, token string, err error) {
	b := make([]byte, 32)
	if _, err := rand.Read(b); err != nil {
		return "", "", fmt.Errorf("localcluster: generating the admin token: %w", err)
	}
	token = hex.EncodeToString(b)
	path = filepath.Join(dir, "tokens.csv")
	line := fmt.Sprintf("%s,%s,%s,%q\n", token, adminUser, adminUser, adminGroup)
	if err := os.WriteFile(path, []byte(line), 0o600); err != nil {
		return "", "", fmt.Errorf("localcluster: writing %s: %w", path, err)
	}
	return path, token, nil
}
