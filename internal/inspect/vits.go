package inspect

import "fmt"

// The state dict of coqui-tts 0.28's Vits(config) (TTS/tts/models/vits.py),
// layer by layer, as its modules build it: TextEncoder and
// RelativePositionTransformer (TTS/tts/layers/vits/networks.py,
// glow_tts/transformer.py), PosteriorEncoder and ResidualCouplingBlocks
// over WN (generic/wavenet.py), StochasticDurationPredictor
// (vits/stochastic_duration_predictor.py) or DurationPredictor
// (glow_tts/duration_predictor.py), HifiganGenerator
// (vocoder/models/hifigan_generator.py) and VitsDiscriminator
// (vits/discriminator.py, vocoder/models/hifigan_discriminator.py).
// coqui loads a checkpoint's "model" entry into it with
// load_state_dict(strict=True) after dropping "speaker_encoder.*" keys, so
// every difference in names or shapes is one coqui refuses or hides.

// vitsArgs are the VitsArgs fields that set tensor shapes, with their
// defaults in coqui-tts 0.28.
type vitsArgs struct {
	OutChannels             int64     `arg:"out_channels" def:"513"`
	HiddenChannels          int64     `arg:"hidden_channels" def:"192"`
	HiddenFFN               int64     `arg:"hidden_channels_ffn_text_encoder" def:"768"`
	NumHeads                int64     `arg:"num_heads_text_encoder" def:"2"`
	NumLayersText           int64     `arg:"num_layers_text_encoder" def:"6"`
	KernelText              int64     `arg:"kernel_size_text_encoder" def:"3"`
	KernelPosterior         int64     `arg:"kernel_size_posterior_encoder" def:"5"`
	NumLayersPosterior      int64     `arg:"num_layers_posterior_encoder" def:"16"`
	KernelFlow              int64     `arg:"kernel_size_flow" def:"5"`
	NumLayersFlow           int64     `arg:"num_layers_flow" def:"4"`
	ResblockType            string    `arg:"resblock_type_decoder" def:"1"`
	ResblockKernels         []int64   `arg:"resblock_kernel_sizes_decoder" def:"3,7,11"`
	ResblockDilations       [][]int64 `arg:"resblock_dilation_sizes_decoder" def:"1 3 5,1 3 5,1 3 5"`
	UpsampleRates           []int64   `arg:"upsample_rates_decoder" def:"8,8,2,2"`
	UpsampleInitial         int64     `arg:"upsample_initial_channel_decoder" def:"512"`
	UpsampleKernels         []int64   `arg:"upsample_kernel_sizes_decoder" def:"16,16,4,4"`
	Periods                 []int64   `arg:"periods_multi_period_discriminator" def:"2,3,5,7,11"`
	UseSDP                  bool      `arg:"use_sdp" def:"true"`
	InitDiscriminator       bool      `arg:"init_discriminator" def:"true"`
	SpectralNormDisc        bool      `arg:"use_spectral_norm_disriminator" def:"false"`
	UseSpeakerEmbedding     bool      `arg:"use_speaker_embedding" def:"false"`
	SpeakerChannels         int64     `arg:"speaker_embedding_channels" def:"256"`
	UseDVectorFile          bool      `arg:"use_d_vector_file" def:"false"`
	DVectorDim              int64     `arg:"d_vector_dim" def:"0"`
	UseLanguageEmbedding    bool      `arg:"use_language_embedding" def:"false"`
	EmbeddedLanguageDim     int64     `arg:"embedded_language_dim" def:"4"`
	ConditionDPOnSpeaker    bool      `arg:"condition_dp_on_speaker" def:"true"`
	UseSpeakerEncoderAsLoss bool      `arg:"use_speaker_encoder_as_loss" def:"false"`
}

// norm says how a layer's weight is stored.
type norm int

const (
	plain    norm = iota
	weightN       // torch weight norm (dim 0): parametrizations.weight.original0/1, or weight_g/weight_v
	spectral      // torch.nn.utils.spectral_norm: weight_orig, weight_u, weight_v
)

// expected is a state dict's names and shapes; weights under a norm are
// listed once, as "<layer>.weight", and expanded when compared.
type expected struct {
	shapes map[string][]int64
	norms  map[string]norm
	order  []string
}

func newExpected() *expected {
	return &expected{shapes: map[string][]int64{}, norms: map[string]norm{}}
}

func (e *expected) add(name string, n norm, shape ...int64) {
	if _, dup := e.shapes[name]; !dup {
		e.order = append(e.order, name)
	}
	e.shapes[name] = shape
	e.norms[name] = n
}

// conv adds a Conv1d (or Conv2d with a trailing kernel) with a bias.
func (e *expected) conv(prefix string, n norm, out int64, weight ...int64) {
	e.add(prefix+".weight", n, append([]int64{out}, weight...)...)
	e.add(prefix+".bias", plain, out)
}

// layerNorm2 is LayerNorm2 (gamma, beta [C]); layerNorm is LayerNorm
// (gamma, beta [1, C, 1]) (TTS/tts/layers/generic/normalization.py).
func (e *expected) layerNorm2(prefix string, c int64) {
	e.add(prefix+".gamma", plain, c)
	e.add(prefix+".beta", plain, c)
}

func (e *expected) layerNorm(prefix string, c int64) {
	e.add(prefix+".gamma", plain, 1, c, 1)
	e.add(prefix+".beta", plain, 1, c, 1)
}

// wn is WN(in, hidden, kernel, _, layers, c_in).
func (e *expected) wn(prefix string, in, hidden, kernel, layers, cond int64) {
	if cond > 0 {
		e.conv(prefix+".cond_layer", weightN, 2*hidden*layers, cond, 1)
	}
	for i := range layers {
		c := hidden
		if i == 0 {
			c = in
		}
		e.conv(fmt.Sprintf("%s.in_layers.%d", prefix, i), weightN, 2*hidden, c, kernel)
		rs := 2 * hidden
		if i == layers-1 {
			rs = hidden
		}
		e.conv(fmt.Sprintf("%s.res_skip_layers.%d", prefix, i), weightN, rs, hidden, 1)
	}
}

// dds is DilatedDepthSeparableConv(channels, kernel, layers).
func (e *expected) dds(prefix string, c, kernel, layers int64) {
	for i := range layers {
		e.conv(fmt.Sprintf("%s.convs_sep.%d", prefix, i), plain, c, 1, kernel)
		e.conv(fmt.Sprintf("%s.convs_1x1.%d", prefix, i), plain, c, c, 1)
		e.layerNorm2(fmt.Sprintf("%s.norms_1.%d", prefix, i), c)
		e.layerNorm2(fmt.Sprintf("%s.norms_2.%d", prefix, i), c)
	}
}

// flows are ElementwiseAffine(2) then num_flows ConvFlow(2, hidden, kernel, 3) (10 bins).
func (e *expected) flows(prefix string, hidden, kernel, n int64) {
	e.add(prefix+".0.translation", plain, 2, 1)
	e.add(prefix+".0.log_scale", plain, 2, 1)
	for i := int64(1); i <= n; i++ {
		p := fmt.Sprintf("%s.%d", prefix, i)
		e.conv(p+".pre", plain, hidden, 1, 1)
		e.dds(p+".convs", hidden, kernel, 3)
		e.conv(p+".proj", plain, 1*(10*3-1), hidden, 1)
	}
}

// vits builds the expected state dict of Vits(config): g is the speaker
// conditioning width (embedded_speaker_dim), l the language embedding's
// (embedded_language_dim when emb_l exists), speakers the rows of emb_g
// (0: no emb_g), languages the rows of emb_l.
func vits(a vitsArgs, g, l, speakers, languages int64) *expected {
	e := newExpected()
	h := a.HiddenChannels
	c := h + l
	// text_encoder: TextEncoder(num_chars, h, h, ffn, heads, layers, kernel, _, language_emb_dim=l);
	// the embedding's rows are the tokenizer's symbol count (not set here: see checkVITS).
	e.add("text_encoder.emb.weight", plain, -1, h)
	for i := range a.NumLayersText {
		p := fmt.Sprintf("text_encoder.encoder.attn_layers.%d", i)
		e.add(p+".emb_rel_k", plain, 1, 4*2+1, c/a.NumHeads)
		e.add(p+".emb_rel_v", plain, 1, 4*2+1, c/a.NumHeads)
		for _, x := range []string{"q", "k", "v", "o"} {
			e.conv(p+".conv_"+x, plain, c, c, 1)
		}
		e.layerNorm2(fmt.Sprintf("text_encoder.encoder.norm_layers_1.%d", i), c)
		p = fmt.Sprintf("text_encoder.encoder.ffn_layers.%d", i)
		e.conv(p+".conv_1", plain, a.HiddenFFN, c, a.KernelText)
		e.conv(p+".conv_2", plain, c, a.HiddenFFN, a.KernelText)
		e.layerNorm2(fmt.Sprintf("text_encoder.encoder.norm_layers_2.%d", i), c)
	}
	e.conv("text_encoder.proj", plain, 2*h, c, 1)
	// posterior_encoder: PosteriorEncoder(out_channels, h, h, kernel, _, layers, cond=g)
	e.conv("posterior_encoder.pre", plain, h, a.OutChannels, 1)
	e.wn("posterior_encoder.enc", h, h, a.KernelPosterior, a.NumLayersPosterior, g)
	e.conv("posterior_encoder.proj", plain, 2*h, h, 1)
	// flow: ResidualCouplingBlocks(h, h, kernel, _, layers, num_flows=4, cond=g), mean_only
	for i := range int64(4) {
		p := fmt.Sprintf("flow.flows.%d", i)
		e.conv(p+".pre", plain, h, h/2, 1)
		e.wn(p+".enc", h, h, a.KernelFlow, a.NumLayersFlow, g)
		e.conv(p+".post", plain, h/2, h, 1)
	}
	if a.UseSDP {
		// StochasticDurationPredictor(h, 192, 3, _, 4, cond, language_emb_dim=l)
		cond := int64(0)
		if a.ConditionDPOnSpeaker {
			cond = g
		}
		e.conv("duration_predictor.pre", plain, 192, c, 1)
		e.dds("duration_predictor.convs", 192, 3, 3)
		e.conv("duration_predictor.proj", plain, 192, 192, 1)
		e.flows("duration_predictor.flows", 192, 3, 4)
		e.conv("duration_predictor.post_pre", plain, 192, 1, 1)
		e.dds("duration_predictor.post_convs", 192, 3, 3)
		e.conv("duration_predictor.post_proj", plain, 192, 192, 1)
		e.flows("duration_predictor.post_flows", 192, 3, 4)
		if cond != 0 {
			e.conv("duration_predictor.cond", plain, 192, cond, 1)
		}
		if l != 0 {
			e.conv("duration_predictor.cond_lang", plain, 192, l, 1)
		}
	} else {
		// DurationPredictor(h, 256, 3, _, cond_channels=g, language_emb_dim=l)
		e.conv("duration_predictor.conv_1", plain, 256, c, 3)
		e.layerNorm("duration_predictor.norm_1", 256)
		e.conv("duration_predictor.conv_2", plain, 256, 256, 3)
		e.layerNorm("duration_predictor.norm_2", 256)
		e.conv("duration_predictor.proj", plain, 1, 256, 1)
		if g != 0 {
			e.conv("duration_predictor.cond", plain, c, g, 1)
		}
		if l != 0 {
			e.conv("duration_predictor.cond_lang", plain, c, l, 1)
		}
	}
	hifigan(e, a, h, g)
	if a.InitDiscriminator {
		discriminator(e, a)
	}
	if speakers != 0 { // -1: any number of rows
		e.add("emb_g.weight", plain, speakers, a.SpeakerChannels)
	}
	if languages != 0 {
		e.add("emb_l.weight", plain, languages, a.EmbeddedLanguageDim)
	}
	return e
}

// hifigan is HifiganGenerator(h, 1, ..., cond_channels=g,
// conv_pre_weight_norm=False, conv_post_weight_norm=False, conv_post_bias=False).
func hifigan(e *expected, a vitsArgs, h, g int64) {
	u := a.UpsampleInitial
	e.conv("waveform_decoder.conv_pre", plain, u, h, 7)
	ups := min(len(a.UpsampleRates), len(a.UpsampleKernels))
	for i := range ups {
		// ConvTranspose1d(u>>i, u>>(i+1), k): weight [in, out, k]
		p := fmt.Sprintf("waveform_decoder.ups.%d", i)
		e.add(p+".weight", weightN, u>>i, u>>(i+1), a.UpsampleKernels[i])
		e.add(p+".bias", plain, u>>(i+1))
	}
	blocks := min(len(a.ResblockKernels), len(a.ResblockDilations))
	for i := range ups {
		ch := u >> (i + 1)
		for j := range blocks {
			p := fmt.Sprintf("waveform_decoder.resblocks.%d", i*blocks+j)
			k := a.ResblockKernels[j]
			if a.ResblockType == "1" {
				for n := range 3 {
					e.conv(fmt.Sprintf("%s.convs1.%d", p, n), weightN, ch, ch, k)
					e.conv(fmt.Sprintf("%s.convs2.%d", p, n), weightN, ch, ch, k)
				}
			} else {
				for n := range 2 {
					e.conv(fmt.Sprintf("%s.convs.%d", p, n), weightN, ch, ch, k)
				}
			}
		}
	}
	e.add("waveform_decoder.conv_post.weight", plain, 1, u>>ups, 7)
	if g > 0 {
		e.conv("waveform_decoder.cond_layer", plain, u, g, 1)
	}
}

// discriminator is VitsDiscriminator(periods): DiscriminatorS, then a
// DiscriminatorP per period.
func discriminator(e *expected, a vitsArgs) {
	n := weightN
	if a.SpectralNormDisc {
		n = spectral
	}
	s := [][4]int64{{16, 1, 15}, {64, 4, 41}, {256, 4, 41}, {1024, 4, 41}, {1024, 4, 41}, {1024, 1024, 5}}
	for i, c := range s {
		e.conv(fmt.Sprintf("disc.nets.0.convs.%d", i), n, c[0], c[1], c[2])
	}
	e.conv("disc.nets.0.conv_post", n, 1, 1024, 3)
	p := [][2]int64{{32, 1}, {128, 32}, {512, 128}, {1024, 512}, {1024, 1024}}
	for k := range a.Periods {
		for i, c := range p {
			e.conv(fmt.Sprintf("disc.nets.%d.convs.%d", k+1, i), n, c[0], c[1], 5, 1)
		}
		e.conv(fmt.Sprintf("disc.nets.%d.conv_post", k+1), n, 1, 1024, 3, 1)
	}
}
