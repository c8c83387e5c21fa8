package sandbox

import (
	"bufio"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
)

// DefaultTTSPort is coqui tts-server's default port.
const DefaultTTSPort = 5002

// dirFamilies load from their folder: tts-server's --model_path names the
// folder, which coqui's Synthesizer hands to the model's load_checkpoint as
// checkpoint_dir (XTTS reads model.pth, vocab.json and speakers_xtts.pth
// from it).
var dirFamilies = map[string]bool{"xtts": true, "tortoise": true, "bark": true}

// checkpointNames are the model files coqui's ModelManager looks for, then
// the names of training checkpoints, best first.
var checkpointNames = []string{"model.pth", "model_file.pth", "model_file.pth.tar", "checkpoint.pth", "best_model.pth"}

// speakerNames are the speaker files coqui's released models carry.
var speakerNames = []string{"speakers.pth", "speakers.json", "speaker_ids.pth", "speaker_ids.json"}

var checkpointStep = regexp.MustCompile(`^checkpoint_([0-9]{1,12})\.pth$`)

// TTSServer is how coqui's tts-server is started on a stored model.
type TTSServer struct {
	Family  string   `json:"family"` // config.json "model": vits, tacotron2, glow_tts, xtts, ...
	Args    []string `json:"args"`   // tts-server arguments, paths inside the model folders
	Vocoder string   `json:"vocoder_family,omitempty"`
}

// TTSServerArgs builds tts-server's arguments from a model folder's layout
// (and a vocoder folder's, when vocoder is not ""):
//
//	xtts, tortoise, bark: --model_path DIR --config_path DIR/config.json
//	others (vits, glow_tts, tacotron2, ...): --model_path FILE --config_path DIR/config.json
//	  [--speakers_file_path DIR/speakers.pth|speakers.json|speaker_ids.pth|speaker_ids.json]
//	with a vocoder: --vocoder_path VDIR/FILE --vocoder_config_path VDIR/config.json
//	always: --port PORT
//
// FILE is the first of model.pth, model_file.pth, model_file.pth.tar,
// checkpoint.pth, best_model.pth, else the checkpoint_N.pth with the highest N.
func TTSServerArgs(model, vocoder string, port int) (*TTSServer, error) {
	return TTSServerArgsDecrypted(model, vocoder, port, nil)
}

// TTSServerArgsDecrypted is TTSServerArgs of folders that may be
// encrypted at rest: their config.json content is d's, their layout is
// read from the folders, and the arguments name the folders d gives the
// command in their place.
func TTSServerArgsDecrypted(model, vocoder string, port int, d *Decrypted) (*TTSServer, error) {
	cfg, _ := d.Config(model)
	fam, err := family(model, cfg)
	if err != nil {
		return nil, err
	}
	t := &TTSServer{Family: fam}
	m := func(p string) string { return d.at(model, p) }
	if dirFamilies[fam] {
		t.Args = []string{"--model_path", m(model), "--config_path", m(filepath.Join(model, "config.json"))}
	} else {
		f, err := checkpoint(model)
		if err != nil {
			return nil, err
		}
		t.Args = []string{"--model_path", m(f), "--config_path", m(filepath.Join(model, "config.json"))}
		for _, n := range speakerNames {
			if p := filepath.Join(model, n); isFile(p) {
				t.Args = append(t.Args, "--speakers_file_path", m(p))
				break
			}
		}
	}
	if vocoder != "" {
		if dirFamilies[fam] {
			return nil, fmt.Errorf("%w: %s models bring their own vocoder; --vocoder does not apply", ErrSpec, fam)
		}
		vcfg, _ := d.Config(vocoder)
		if t.Vocoder, err = family(vocoder, vcfg); err != nil {
			return nil, err
		}
		f, err := checkpoint(vocoder)
		if err != nil {
			return nil, err
		}
		t.Args = append(t.Args, "--vocoder_path", d.at(vocoder, f), "--vocoder_config_path", d.at(vocoder, filepath.Join(vocoder, "config.json")))
	}
	t.Args = append(t.Args, "--port", strconv.Itoa(port))
	return t, nil
}

// family reads the "model" field of a folder's config.json (of plain, its
// content, when not nil).
func family(dir string, plain []byte) (string, error) {
	data, err := plain, error(nil)
	if plain == nil {
		var f *os.File
		if f, err = os.Open(filepath.Join(dir, "config.json")); err != nil {
			return "", fmt.Errorf("%w: %s is not a coqui model folder: %w", ErrSpec, dir, err)
		}
		defer f.Close()
		data, err = io.ReadAll(io.LimitReader(f, maxConfig+1))
	}
	if err == nil && len(data) > maxConfig {
		err = fmt.Errorf("larger than %d bytes", maxConfig)
	}
	var cfg struct {
		Model json.RawMessage `json:"model"`
	}
	if err == nil {
		err = json.Unmarshal(pythonJSON(data), &cfg)
	}
	if err != nil {
		return "", fmt.Errorf("%w: %s/config.json: %w", ErrSpec, dir, err)
	}
	var name string
	if err := json.Unmarshal(cfg.Model, &name); err != nil || name == "" {
		return "", fmt.Errorf("%w: %s/config.json names no coqui model family (\"model\": \"vits\", ...); "+
			"tts-server cannot load it by path (fairseq models load only by name)", ErrSpec, dir)
	}
	return strings.ToLower(name), nil
}

// maxConfig caps the config.json read to find the model family.
const maxConfig = 16 << 20

// pythonJSON turns the literals Python's json module writes and reads but
// JSON lacks (NaN, Infinity, -Infinity: coqui configs hold max_audio_len:
// Infinity) into null, outside strings.
func pythonJSON(data []byte) []byte {
	out := make([]byte, 0, len(data))
	inString := false
	for i := 0; i < len(data); i++ {
		c := data[i]
		if inString {
			out = append(out, c)
			switch c {
			case '\\':
				if i+1 < len(data) {
					i++
					out = append(out, data[i])
				}
			case '"':
				inString = false
			}
			continue
		}
		if c == '"' {
			inString = true
		}
		replaced := false
		for _, lit := range []string{"-Infinity", "Infinity", "NaN"} {
			if strings.HasPrefix(string(data[i:min(len(data), i+len(lit))]), lit) {
				out, i, replaced = append(out, "null"...), i+len(lit)-1, true
				break
			}
		}
		if !replaced {
			out = append(out, c)
		}
	}
	return out
}

// checkpoint finds the model file of a folder.
func checkpoint(dir string) (string, error) {
	for _, n := range checkpointNames {
		if p := filepath.Join(dir, n); isFile(p) {
			return p, nil
		}
	}
	ents, err := os.ReadDir(dir)
	if err != nil {
		return "", err
	}
	best, bestStep := "", int64(-1)
	for _, e := range ents {
		if m := checkpointStep.FindStringSubmatch(e.Name()); m != nil && e.Type().IsRegular() {
			if n, _ := strconv.ParseInt(m[1], 10, 64); n > bestStep {
				best, bestStep = filepath.Join(dir, e.Name()), n
			}
		}
	}
	if best == "" {
		return "", fmt.Errorf("%w: %s has no model file (%s or checkpoint_N.pth)", ErrSpec, dir, strings.Join(checkpointNames, ", "))
	}
	return best, nil
}

func isFile(p string) bool {
	st, err := os.Stat(p)
	return err == nil && st.Mode().IsRegular()
}

// hostWrapper starts tts-server's main with Flask's host replaced: coqui's
// server has no --host option and listens on "::" (every address). The host
// is argv[1], never part of the code.
const hostWrapper = `import sys
host = sys.argv.pop(1)
sys.argv[0] = "tts-server"
import flask
_run = flask.Flask.run
def run(self, *args, **kwargs):
    kwargs["host"] = host
    return _run(self, *args, **kwargs)
flask.Flask.run = run
from TTS.server.server import main
main()
`

// TTSServerCommand returns the command line that starts the tts-server
// script at path with args. With a host, the script's Python interpreter
// (its #! line) runs tts-server's main through a wrapper that makes Flask
// listen on host (an IP address or "localhost").
func TTSServerCommand(path, host string, args []string) ([]string, error) {
	if host == "" {
		return append([]string{path}, args...), nil
	}
	if host != "localhost" && net.ParseIP(host) == nil {
		return nil, fmt.Errorf("%w: host %q: want an IP address or localhost", ErrSpec, host)
	}
	py, err := shebang(path)
	if err != nil {
		return nil, err
	}
	// -I: isolated, as a tool's own interpreter should be: no user site,
	// no PYTHON* variables, nothing from the working folder on sys.path.
	return append([]string{py, "-I", "-c", hostWrapper, host}, args...), nil
}

// shebang returns the interpreter of a Python console script.
func shebang(path string) (string, error) {
	f, err := os.Open(path)
	if err != nil {
		return "", err
	}
	defer f.Close()
	line, _ := bufio.NewReader(io.LimitReader(f, 4096)).ReadString('\n')
	rest, ok := strings.CutPrefix(strings.TrimSpace(line), "#!")
	fields := strings.Fields(rest)
	if !ok || len(fields) != 1 || !filepath.IsAbs(fields[0]) || !strings.Contains(filepath.Base(fields[0]), "python") {
		return "", fmt.Errorf("%w: --host needs %s to be a Python console script (#!/path/to/python), as pip installs it", ErrSpec, path)
	}
	return fields[0], nil
}

// ttsServerOptions are the tts-server (coqui-tts 0.28) options a caller may
// add: name -> takes a value. The others are refused: --debug (Flask's
// debugger runs code any client sends), --model_name, --vocoder_name and
// --list_models (coqui would download models: pull them into the store),
// the model paths and --port (ttsguard gives the verified ones).
var ttsServerOptions = map[string]bool{
	"--speaker_idx": true, "--language_idx": true, "--device": true,
	"--use_cuda": false, "--no-use_cuda": false, "--show_details": false, "--no-show_details": false,
}

// ttsServerRefused says why an option of tts-server cannot be given.
var ttsServerRefused = map[string]string{
	"--debug":               "it turns on Flask's debugger, which runs code any client sends",
	"--no-debug":            "debug mode is off already",
	"--model_name":          "coqui would download the model: pull it with ttsguard and run it by name",
	"--vocoder_name":        "coqui would download the vocoder: pull it and give --vocoder NAME",
	"--list_models":         "it lists coqui's catalog and exits; use ttsguard ls",
	"--model_path":          "ttsguard gives the verified model",
	"--config_path":         "ttsguard gives the verified model's config",
	"--speakers_file_path":  "ttsguard gives the verified model's speakers file",
	"--vocoder_path":        "give --vocoder NAME",
	"--vocoder_config_path": "give --vocoder NAME",
	"--port":                "give ttsguard's --port",
}

// TTSServerOptions checks options for tts-server given after `--` and
// returns them, and whether they ask for a GPU (--device cuda..., --use_cuda).
// Values are arguments, never code; "--opt=value" is accepted too.
func TTSServerOptions(args []string) ([]string, bool, error) {
	var out []string
	gpu := false
	for i := 0; i < len(args); i++ {
		name, value, inline := strings.Cut(args[i], "=")
		takes, ok := ttsServerOptions[name]
		if !ok {
			if why, refused := ttsServerRefused[name]; refused {
				return nil, false, fmt.Errorf("%w: tts-server option %s is refused: %s", ErrSpec, name, why)
			}
			return nil, false, fmt.Errorf("%w: tts-server option %q is not one ttsguard passes (allowed: --speaker_idx, "+
				"--language_idx, --device, --[no-]use_cuda, --[no-]show_details)", ErrSpec, args[i])
		}
		if !takes {
			if inline {
				return nil, false, fmt.Errorf("%w: tts-server option %s takes no value", ErrSpec, name)
			}
			gpu = gpu || name == "--use_cuda"
			out = append(out, name)
			continue
		}
		if !inline {
			if i+1 >= len(args) {
				return nil, false, fmt.Errorf("%w: tts-server option %s needs a value", ErrSpec, name)
			}
			i++
			value = args[i]
		}
		if value == "" || len(value) > 256 || strings.ContainsFunc(value, func(r rune) bool { return r < 0x20 || r == 0x7f }) {
			return nil, false, fmt.Errorf("%w: tts-server option %s: bad value %q", ErrSpec, name, value)
		}
		if name == "--device" {
			if !deviceName.MatchString(value) {
				return nil, false, fmt.Errorf("%w: tts-server --device %q: want cpu, cuda or cuda:N", ErrSpec, value)
			}
			gpu = gpu || strings.HasPrefix(value, "cuda")
		}
		out = append(out, name, value)
	}
	return out, gpu, nil
}

// deviceName is a torch device tts-server may be given.
var deviceName = regexp.MustCompile(`^(cpu|cuda|cuda:[0-9]{1,2})$`)
