package cli

import (
	"github.com/spf13/cobra"

	"github.com/ttsguard/ttsguard/internal/manifest"
	"github.com/ttsguard/ttsguard/internal/oms"
)

// modelFlags are the flags that say which files of a model are hashed and how.
type modelFlags struct {
	signature     string
	ignorePaths   []string
	shards        bool
	shardSize     int64
	allowSymlinks bool
}

func (f *modelFlags) addSelection(c *cobra.Command) {
	c.Flags().StringArrayVar(&f.ignorePaths, "ignore-paths", nil, "path to leave out, relative to the model root or absolute inside it (repeatable)")
}

func (f *modelFlags) addSignature(c *cobra.Command) {
	c.Flags().StringVar(&f.signature, "signature", "", "signature file (default MODEL/model.sig, or FILE.sig for a single-file model)")
}

func (f *modelFlags) addSerialization(c *cobra.Command) {
	c.Flags().BoolVar(&f.shards, "shards", false, "hash files in shards (parallel within a file) instead of one digest per file")
	c.Flags().Int64Var(&f.shardSize, "shard-size", manifest.DefaultShardSize, "shard size in bytes, with --shards")
	c.Flags().BoolVar(&f.allowSymlinks, "allow-symlinks", false, "hash the targets of symbolic links instead of refusing them")
}

func (f *modelFlags) options(c *cobra.Command) (oms.ModelOptions, error) {
	o := oms.ModelOptions{Signature: f.signature, IgnorePaths: f.ignorePaths, AllowSymlinks: f.allowSymlinks, Method: manifest.MethodFiles}
	if c.Flags().Lookup("shards") != nil {
		if c.Flags().Changed("shard-size") && !f.shards {
			return o, usagef("--shard-size needs --shards")
		}
		if f.shards {
			if f.shardSize <= 0 {
				return o, usagef("--shard-size %d: must be positive", f.shardSize)
			}
			o.Method, o.ShardSize = manifest.MethodShards, f.shardSize
		}
	}
	return o, nil
}

func newDigestCmd(g *globals) *cobra.Command {
	var f modelFlags
	c := &cobra.Command{
		Use:   "digest [flags] MODEL",
		Short: "Print the OMS root digest of a model folder or file (the value model_signing computes)",
		Args:  cobra.ExactArgs(1),
		RunE: func(c *cobra.Command, args []string) error {
			o, err := f.options(c)
			if err != nil {
				return err
			}
			r, err := oms.Digest(c.Context(), args[0], o)
			if err != nil {
				return err
			}
			if g.json {
				return g.printer().Print(r)
			}
			_, err = c.OutOrStdout().Write([]byte(r.Root + "\n"))
			return err
		},
	}
	f.addSelection(c)
	f.addSerialization(c)
	return c
}
