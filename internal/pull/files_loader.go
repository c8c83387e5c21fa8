package pull

import (
	"io"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"

	"github.com/ttsguard/ttsguard/internal/scan"
	"github.com/ttsguard/ttsguard/internal/scan/config"
)

// What coqui's loaders read from a model folder. The checkpoint and speaker
// file rules are those of sandbox.TTSServerArgs (internal/sandbox/ttsserver.go),
// which builds tts-server's arguments for ttsguard run; TestCheckpointRule
// holds the two together.
var (
	// dirFamilies load from their folder (tts-server's --model_path is the
	// folder): which files they read is the family's own business.
	dirFamilies = map[string]bool{"xtts": true, "tortoise": true, "bark": true}
	// checkpointNames are the model files looked for, best first; else the
	// checkpoint_N.pth with the highest N.
	checkpointNames = []string{"model.pth", "model_file.pth", "model_file.pth.tar", "checkpoint.pth", "best_model.pth"}
	checkpointStep  = regexp.MustCompile(`^checkpoint_([0-9]{1,12})\.pth$`)
	// speakerNames: the first one present is tts-server's --speakers_file_path.
	speakerNames = []string{"speakers.pth", "speakers.json", "speaker_ids.pth", "speaker_ids.json"}
	// downloaderNames are the files coqui's downloader points a config's
	// path fields at when they are in the model folder (ModelManager.
	// _update_paths), as ttsguard run does too.
	downloaderNames = []string{"scale_stats.npy", "speakers.json", "speakers.pth", "speaker_ids.json", "speaker_ids.pth",
		"language_ids.json", "model_se.pth", "model_se.pth.tar", "config_se.json"}
	// trainerLeftover are files coqui's trainer writes into its run folder
	// that no loader reads: periodic and numbered best checkpoints,
	// TensorBoard logs, its log file.
	trainerLeftover = regexp.MustCompile(`^(checkpoint_[0-9]+\.pth|best_model_[0-9]+\.pth|events\.out\.tfevents\..*|trainer_[0-9]+_log\.txt)$`)
)

// chooseCheckpoint returns the model file tts-server is given among the
// top-level names (sorted), as sandbox.TTSServerArgs chooses it; "" when
// there is none.
func chooseCheckpoint(names []string) string {
	top := map[string]bool{}
	for _, n := range names {
		top[n] = true
	}
	for _, n := range checkpointNames {
		if top[n] {
			return n
		}
	}
	best, bestStep := "", int64(-1)
	for _, n := range names {
		if m := checkpointStep.FindStringSubmatch(n); m != nil {
			if s, _ := strconv.ParseInt(m[1], 10, 64); s > bestStep {
				best, bestStep = n, s
			}
		}
	}
	return best
}

// unreadFiles returns the model family (config.json's "model", "" when
// unknown) and which of the kept files (slash-separated, sorted) coqui's
// loader never reads:
//
//   - families loaded from one checkpoint (vits, tacotron2, glow_tts, the
//     vocoders ...): every file but config.json, the chosen checkpoint, the
//     speaker file tts-server is given, the files coqui's downloader points
//     path fields at, and the files the config's own path fields resolve to
//     (config.PathFields, training-only fields left aside);
//   - families loaded from their folder (xtts, tortoise, bark) and folders
//     without a readable config: only the trainer's leftovers at the top
//     (checkpoint_N.pth, best_model_N.pth, events.out.tfevents.*,
//     trainer_N_log.txt) that no path field names.
//
// The terms-of-service marker is never counted.
func unreadFiles(model string, kept []string) (string, []string) {
	read := map[string]bool{"config.json": true, TOSFile: true}
	family := ""
	if data, ok := readConfig(filepath.Join(model, "config.json")); ok {
		family, _ = config.ModelName(data)
		fields, _ := config.PathFields(data, os.DirFS(model))
		for _, f := range fields {
			if f.Resolved != "" && !f.Training {
				read[f.Resolved] = true
			}
		}
	}
	var unread []string
	if family == "" || dirFamilies[family] {
		for _, n := range kept {
			if !read[n] && trainerLeftover.MatchString(n) {
				unread = append(unread, n)
			}
		}
		return family, unread
	}
	var top []string
	for _, n := range kept {
		if !strings.Contains(n, "/") {
			top = append(top, n)
		}
	}
	read[chooseCheckpoint(top)] = true
	for _, n := range speakerNames {
		if slices.Contains(top, n) {
			read[n] = true
			break
		}
	}
	for _, n := range downloaderNames {
		read[n] = true
	}
	for _, n := range kept {
		if !read[n] {
			unread = append(unread, n)
		}
	}
	return family, unread
}

// readConfig reads a staged config.json, at most scan.DefaultLimits'
// config size; ok is false when it is missing, not a regular file or larger.
func readConfig(p string) ([]byte, bool) {
	f, err := os.Open(p)
	if err != nil {
		return nil, false
	}
	defer f.Close()
	if fi, err := f.Stat(); err != nil || !fi.Mode().IsRegular() {
		return nil, false
	}
	max := scan.DefaultLimits.MaxConfigSize
	data, err := io.ReadAll(io.LimitReader(f, max+1))
	if err != nil || int64(len(data)) > max {
		return nil, false
	}
	return data, true
}
