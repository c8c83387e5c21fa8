package pull

import "context"

// RootDigest is the OMS root digest a pull of the model folder dir would
// pin (the same walk and rules; the policy's files.exclude is not applied).
func RootDigest(ctx context.Context, dir string) (string, error) {
	m, _, err := buildManifest(ctx, dir, nil)
	if err != nil {
		return "", err
	}
	return m.Root().String(), nil
}
