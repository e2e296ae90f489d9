package wire

import (
	"encoding/binary"
	"fmt"
)

// checkIPC walks the framing and the flatbuffer metadata of an Arrow IPC
// stream before arrow-go reads it. arrow-go trusts the lengths it finds there
// and allocates from them: a crafted 100-byte message can ask for terabytes,
// a fatal error that recover cannot catch. Only what this package's schema
// needs is allowed: a schema message of flat columns, then record batches,
// without dictionaries or compression.
func checkIPC(body []byte) error {
	pos := 0
	for n := 0; ; n++ {
		if pos == len(body) {
			if n == 0 {
				return fmt.Errorf("empty stream")
			}
			return nil // a stream without its end-of-stream marker is still whole
		}
		if pos+4 > len(body) {
			return fmt.Errorf("message %d: truncated length", n)
		}
		size := binary.LittleEndian.Uint32(body[pos:])
		pos += 4
		if size == 0xFFFFFFFF { // continuation marker, then the length
			if pos+4 > len(body) {
				return fmt.Errorf("message %d: truncated length", n)
			}
			size = binary.LittleEndian.Uint32(body[pos:])
			pos += 4
		}
		if size == 0 {
			return nil // end of stream
		}
		if int64(size) > int64(len(body)-pos) {
			return fmt.Errorf("message %d: metadata of %d bytes overruns the body", n, size)
		}
		meta := fb{buf: body[pos : pos+int(size)]}
		pos += int(size)
		bodyLen, err := meta.message(n == 0)
		if err != nil {
			return fmt.Errorf("message %d: %w", n, err)
		}
		if bodyLen < 0 || bodyLen > int64(len(body)-pos) {
			return fmt.Errorf("message %d: body of %d bytes overruns the stream", n, bodyLen)
		}
		if err := meta.checkBuffers(bodyLen); err != nil {
			return fmt.Errorf("message %d: %w", n, err)
		}
		pos += int(bodyLen)
	}
}

// fb reads a flatbuffer with every offset and length checked.
type fb struct {
	buf     []byte
	buffers [][2]int64 // (offset, length) of a record batch's buffers
}

func (f *fb) u32(p int) (uint32, error) {
	if p < 0 || p+4 > len(f.buf) {
		return 0, fmt.Errorf("offset %d out of bounds", p)
	}
	return binary.LittleEndian.Uint32(f.buf[p:]), nil
}

// table returns the position of the table a uoffset at p points to, and a
// lookup of its fields' positions (0: absent).
func (f *fb) table(p int) (int, func(i int) (int, error), error) {
	off, err := f.u32(p)
	if err != nil {
		return 0, nil, err
	}
	t := p + int(off)
	so, err := f.u32(t)
	if err != nil {
		return 0, nil, err
	}
	vt := t - int(int32(so))
	if vt < 0 || vt+4 > len(f.buf) {
		return 0, nil, fmt.Errorf("vtable out of bounds")
	}
	vsize := int(binary.LittleEndian.Uint16(f.buf[vt:]))
	if vsize < 4 || vsize%2 != 0 || vt+vsize > len(f.buf) {
		return 0, nil, fmt.Errorf("bad vtable")
	}
	field := func(i int) (int, error) {
		at := vt + 4 + 2*i
		if at+2 > vt+vsize {
			return 0, nil
		}
		o := int(binary.LittleEndian.Uint16(f.buf[at:]))
		if o == 0 {
			return 0, nil
		}
		if t+o >= len(f.buf) {
			return 0, fmt.Errorf("field %d out of bounds", i)
		}
		return t + o, nil
	}
	return t, field, nil
}

// vector checks the vector a uoffset at p points to and returns the
// position of its first element and its length.
func (f *fb) vector(p, elemSize, maxLen int) (int, int, error) {
	off, err := f.u32(p)
	if err != nil {
		return 0, 0, err
	}
	v := p + int(off)
	n, err := f.u32(v)
	if err != nil {
		return 0, 0, err
	}
	if int64(n) > int64(maxLen) || int64(v)+4+int64(n)*int64(elemSize) > int64(len(f.buf)) {
		return 0, 0, fmt.Errorf("vector of %d elements out of bounds", n)
	}
	return v + 4, int(n), nil
}

func (f *fb) i64(p int) int64 {
	if p == 0 || p+8 > len(f.buf) {
		return 0
	}
	return int64(binary.LittleEndian.Uint64(f.buf[p:]))
}

func (f *fb) u8(p int) byte {
	if p == 0 || p >= len(f.buf) {
		return 0
	}
	return f.buf[p]
}

// Arrow's Message.fbs header types.
const (
	headerSchema      = 1
	headerRecordBatch = 3
)

// message checks a Message and returns its bodyLength.
func (f *fb) message(first bool) (int64, error) {
	_, field, err := f.table(0)
	if err != nil {
		return 0, err
	}
	ht, _ := field(1)
	hp, err := field(2)
	if err != nil || hp == 0 {
		return 0, fmt.Errorf("message without a header")
	}
	bl, err := field(3)
	if err != nil {
		return 0, err
	}
	if err := f.keyValues(field, 4); err != nil {
		return 0, err
	}
	switch typ := f.u8(ht); {
	case first && typ == headerSchema:
		return f.i64(bl), f.schema(hp)
	case !first && typ == headerRecordBatch:
		return f.i64(bl), f.recordBatch(hp)
	case first:
		return 0, fmt.Errorf("the stream does not start with a schema")
	default:
		return 0, fmt.Errorf("message type %d is not a record batch (dictionaries are not allowed)", typ)
	}
}

func (f *fb) keyValues(field func(int) (int, error), i int) error {
	p, err := field(i)
	if err != nil || p == 0 {
		return err
	}
	first, n, err := f.vector(p, 4, 64)
	if err != nil {
		return fmt.Errorf("custom metadata: %w", err)
	}
	for k := 0; k < n; k++ {
		_, kv, err := f.table(first + 4*k)
		if err != nil {
			return err
		}
		for s := 0; s < 2; s++ {
			sp, err := kv(s)
			if err != nil {
				return err
			}
			if sp != 0 {
				if _, _, err := f.vector(sp, 1, len(f.buf)); err != nil {
					return fmt.Errorf("custom metadata: %w", err)
				}
			}
		}
	}
	return nil
}

func (f *fb) schema(p int) error {
	_, field, err := f.table(p)
	if err != nil {
		return err
	}
	if err := f.keyValues(field, 2); err != nil {
		return err
	}
	if fp, err := field(3); err != nil {
		return err
	} else if fp != 0 {
		if _, _, err := f.vector(fp, 8, 64); err != nil {
			return fmt.Errorf("features: %w", err)
		}
	}
	fp, err := field(1)
	if err != nil || fp == 0 {
		return fmt.Errorf("schema without fields")
	}
	first, n, err := f.vector(fp, 4, 64)
	if err != nil {
		return fmt.Errorf("fields: %w", err)
	}
	for i := 0; i < n; i++ {
		if err := f.field(first + 4*i); err != nil {
			return fmt.Errorf("field %d: %w", i, err)
		}
	}
	return nil
}

func (f *fb) field(p int) error {
	_, field, err := f.table(p)
	if err != nil {
		return err
	}
	if np, err := field(0); err != nil {
		return err
	} else if np != 0 {
		if _, _, err := f.vector(np, 1, len(f.buf)); err != nil {
			return fmt.Errorf("name: %w", err)
		}
	}
	tp, err := field(3)
	if err != nil || tp == 0 {
		return fmt.Errorf("column without a type")
	}
	_, tfield, err := f.table(tp)
	if err != nil {
		return err
	}
	// Only the Timestamp type (10) has an offset field (its time zone) among
	// the flat types; others are scalars that the vtable check covers.
	if f.u8(mustField(field(2))) == 10 {
		if zp, err := tfield(1); err != nil {
			return err
		} else if zp != 0 {
			if _, _, err := f.vector(zp, 1, 64); err != nil {
				return fmt.Errorf("time zone: %w", err)
			}
		}
	}
	for _, nested := range []struct {
		i    int
		what string
	}{{4, "dictionary-encoded"}, {5, "nested"}} {
		np, err := field(nested.i)
		if err != nil {
			return err
		}
		if np != 0 {
			if nested.i == 5 { // an empty children vector is what writers put for flat columns
				_, n, err := f.vector(np, 4, 64)
				if err != nil {
					return fmt.Errorf("children: %w", err)
				}
				if n == 0 {
					continue
				}
			}
			return fmt.Errorf("%s columns are not allowed", nested.what)
		}
	}
	return f.keyValues(field, 6)
}

func mustField(p int, _ error) int { return p }

func (f *fb) recordBatch(p int) error {
	_, field, err := f.table(p)
	if err != nil {
		return err
	}
	if l := f.i64(mustField(field(0))); l < 0 || l > MaxBatchRows {
		return fmt.Errorf("record batch of %d rows", l)
	}
	if cp, err := field(3); err != nil || cp != 0 {
		return fmt.Errorf("compressed record batches are not allowed")
	}
	if vp, err := field(4); err != nil || vp != 0 {
		return fmt.Errorf("variadic buffers are not allowed")
	}
	np, err := field(1)
	if err != nil || np == 0 {
		return fmt.Errorf("record batch without field nodes")
	}
	first, n, err := f.vector(np, 16, 64)
	if err != nil {
		return fmt.Errorf("field nodes: %w", err)
	}
	for i := 0; i < n; i++ {
		l, nulls := f.i64(first+16*i), f.i64(first+16*i+8)
		if l < 0 || l > MaxBatchRows || nulls < 0 || nulls > l {
			return fmt.Errorf("field node %d: length %d, nulls %d", i, l, nulls)
		}
	}
	bp, err := field(2)
	if err != nil || bp == 0 {
		return fmt.Errorf("record batch without buffers")
	}
	first, n, err = f.vector(bp, 16, 256)
	if err != nil {
		return fmt.Errorf("buffers: %w", err)
	}
	for i := 0; i < n; i++ {
		f.buffers = append(f.buffers, [2]int64{f.i64(first + 16*i), f.i64(first + 16*i + 8)})
	}
	return nil
}

// checkBuffers checks that a record batch's buffers lie within its body.
func (f *fb) checkBuffers(bodyLen int64) error {
	for i, b := range f.buffers {
		if b[0] < 0 || b[1] < 0 || b[0] > bodyLen || b[1] > bodyLen-b[0] {
			return fmt.Errorf("buffer %d (offset %d, length %d) outside a body of %d bytes", i, b[0], b[1], bodyLen)
		}
	}
	return nil
}
