package dataset

import "fmt"

// CSVFieldLimit is Python's csv.field_size_limit() default, in characters.
const CSVFieldLimit = 128 * 1024

// csvState mirrors the parser states of CPython's Modules/_csv.c.
type csvState int

const (
	startRecord csvState = iota
	startField
	inField
	inQuotedField
	quoteInQuotedField
	eatCRNL
)

// eol stands for the end of one line handed to the parser (_csv.c's EOL).
const eol rune = -2

// CSVRecord is one row the csv module returns.
type CSVRecord struct {
	First, Last int // Python line numbers of its first and last line
	Fields      []string
}

// pyCSV is Python 3.11's csv.reader with the excel dialect and another
// delimiter (quotechar '"', doublequote, no escapechar, not strict, no
// skipinitialspace), fed the lines of a file opened with newline="".
type pyCSV struct {
	delim  rune
	state  csvState
	fields []string
	field  []rune
	first  int
}

// Line feeds one line. It returns a record when the line completes one
// (with no fields for an empty line, which DictReader skips), nil while a
// quoted field continues, or the error the csv module raises, which ends
// the whole read.
func (p *pyCSV) Line(l PyLine) (*CSVRecord, error) {
	if p.state == startRecord {
		p.first = l.No
	}
	for _, c := range l.Raw() {
		if err := p.char(c); err != nil {
			return nil, fmt.Errorf("line %d: %w", l.No, err)
		}
	}
	if err := p.char(eol); err != nil {
		return nil, fmt.Errorf("line %d: %w", l.No, err)
	}
	if p.state != startRecord {
		return nil, nil
	}
	rec := &CSVRecord{First: p.first, Last: l.No, Fields: p.fields}
	if rec.Fields == nil {
		rec.Fields = []string{}
	}
	p.fields = nil
	return rec, nil
}

// End is called at the end of input: a pending field (an unterminated
// quoted field) becomes a last record, as in non-strict mode.
func (p *pyCSV) End(last int) *CSVRecord {
	if len(p.field) == 0 && p.state != inQuotedField {
		return nil
	}
	p.save()
	rec := &CSVRecord{First: p.first, Last: last, Fields: p.fields}
	p.fields = nil
	return rec
}

func (p *pyCSV) save() {
	p.fields = append(p.fields, string(p.field))
	p.field = p.field[:0]
}

func (p *pyCSV) add(c rune) error {
	if len(p.field) >= CSVFieldLimit {
		return fmt.Errorf("field larger than field limit (%d)", CSVFieldLimit)
	}
	p.field = append(p.field, c)
	return nil
}

func (p *pyCSV) endOrCRNL(c rune) {
	p.save()
	if c == eol {
		p.state = startRecord
	} else {
		p.state = eatCRNL
	}
}

func (p *pyCSV) char(c rune) error {
	nl := c == '\n' || c == '\r'
	switch p.state {
	case startRecord:
		if c == eol {
			return nil
		}
		if nl {
			p.state = eatCRNL
			return nil
		}
		p.state = startField
		fallthrough
	case startField:
		switch {
		case nl || c == eol:
			p.endOrCRNL(c)
		case c == '"':
			p.state = inQuotedField
		case c == p.delim:
			p.save()
		default:
			p.state = inField
			return p.add(c)
		}
	case inField:
		switch {
		case nl || c == eol:
			p.endOrCRNL(c)
		case c == p.delim:
			p.save()
			p.state = startField
		default:
			return p.add(c)
		}
	case inQuotedField:
		switch {
		case c == eol:
		case c == '"':
			p.state = quoteInQuotedField
		default:
			return p.add(c)
		}
	case quoteInQuotedField:
		switch {
		case c == '"':
			p.state = inQuotedField
			return p.add(c)
		case c == p.delim:
			p.save()
			p.state = startField
		case nl || c == eol:
			p.endOrCRNL(c)
		default:
			p.state = inField
			return p.add(c)
		}
	case eatCRNL:
		switch {
		case nl:
		case c == eol:
			p.state = startRecord
		default:
			return fmt.Errorf("new-line character seen in unquoted field - do you need to open the file with newline=''?")
		}
	}
	return nil
}
