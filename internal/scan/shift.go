package scan

// Shifted returns a Sink that adds base to the offset of every finding that
// has an offset (not -1) and no member of its own, and passes it on to s.
//
// Format scanners use it when they hand a slice of their input to another
// scanner: a pickle decoder reports offsets relative to the first byte it
// was given, and the .npy scanner shifts them by the header length so that
// they are relative to the start of the file (or archive member). A finding
// that already names a member carries an offset inside that member and is
// passed on unchanged.
func Shifted(s Sink, base int64) Sink {
	if base == 0 {
		return s
	}
	return shifted{s, base}
}

type shifted struct {
	s    Sink
	base int64
}

func (sh shifted) Add(f Finding) {
	if f.Member == "" && f.Offset >= 0 {
		f.Offset += sh.base
	}
	sh.s.Add(f)
}
