package partial

import (
	"cmp"
	"fmt"
	"slices"
	"strings"

	"github.com/tributary-dev/tributary/flight"
)

// Merge combines aggregates of the same views exactly: buckets present in
// several inputs are added (stats merged, histograms added, destination sets
// united). Inputs are sorted by (group, hour), so this is a k-way merge in
// one pass; rows found in one input only are copied as they are.
func Merge(views []flight.View, inputs []*Aggregate) ([]byte, error) {
	out, _, err := MergeRows(views, inputs)
	return out, err
}

// MergeRows is Merge that also returns the number of rows written.
func MergeRows(views []flight.View, inputs []*Aggregate) ([]byte, int64, error) {
	w := newWriter(views)
	for vi, v := range views {
		tables := make([]*Table, 0, len(inputs))
		rows := 0
		for _, a := range inputs {
			if t := a.Table(v.Name); t != nil && t.Len() > 0 {
				tables = append(tables, t)
				rows += t.Len()
			}
		}
		mergeView(w.table(vi, rows), tables)
	}
	return w.finishRows()
}

// Decoded decodes every input; handy for Merge.
func Decoded(inputs [][]byte) ([]*Aggregate, error) {
	out := make([]*Aggregate, len(inputs))
	for i, b := range inputs {
		a, err := Decode(b)
		if err != nil {
			return nil, fmt.Errorf("input %d: %w", i, err)
		}
		out[i] = a
	}
	return out, nil
}

type cursor struct {
	t *Table
	i int
}

type histEntry struct {
	d int32
	n int64
}

// mergeView k-way merges one view's tables, each sorted by (group, hour),
// into out: a run of rows that only one table holds is copied as it is, a
// (group, hour) that several hold becomes one merged row.
func mergeView(out *tableBuilder, tables []*Table) {
	cs := make([]cursor, len(tables))
	for i, t := range tables {
		cs[i] = cursor{t: t}
	}
	var (
		same []int
		sc   mergeScratch
	)
	for {
		var g string
		var h int64
		same, g, h = smallest(cs, same[:0])
		switch len(same) {
		case 0:
			return
		case 1:
			c := &cs[same[0]]
			end := runEnd(cs, same[0])
			copyRows(out, c.t, c.i, end)
			c.i = end
		default:
			sc.mergeRow(out, cs, same, g, h)
		}
	}
}

// smallest appends to same the cursors at the smallest (group, hour) among
// those not exhausted, and returns it with that key; same is empty when
// every cursor is exhausted.
func smallest(cs []cursor, same []int) ([]int, string, int64) {
	var g string
	var h int64
	for ci := range cs {
		c := &cs[ci]
		if c.i >= c.t.Len() {
			continue
		}
		cg, ch := c.t.Group(c.i), c.t.Hour(c.i)
		if len(same) > 0 {
			if d := strings.Compare(cg, g); d > 0 || (d == 0 && ch > h) {
				continue
			} else if d < 0 || ch < h {
				same = same[:0]
			}
		}
		g, h = cg, ch
		same = append(same, ci)
	}
	return same, g, h
}

// runEnd is where the rows of cursor only, the one alone at the smallest
// key, stop being smaller than every other cursor's key: they are copied as
// they are up to there.
func runEnd(cs []cursor, only int) int {
	c := &cs[only]
	if len(cs) == 1 {
		return c.t.Len()
	}
	var ng string
	var nh int64
	found := false
	for ci := range cs {
		o := &cs[ci]
		if ci == only || o.i >= o.t.Len() {
			continue
		}
		og, oh := o.t.Group(o.i), o.t.Hour(o.i)
		if !found || og < ng || (og == ng && oh < nh) {
			ng, nh, found = og, oh, true
		}
	}
	if !found {
		return c.t.Len()
	}
	end := c.i + 1
	for end < c.t.Len() {
		eg := c.t.Group(end)
		if d := strings.Compare(eg, ng); d > 0 || (d == 0 && c.t.Hour(end) >= nh) {
			break
		}
		end++
	}
	return end
}

// mergeScratch holds a merged row's histogram entries and destinations,
// reused from row to row.
type mergeScratch struct {
	hist []histEntry
	ds   []string
}

// mergeRow appends to out the one row (g, h) that the cursors in same all
// hold, their statistics merged, histograms added up and destinations
// united, and advances those cursors.
func (sc *mergeScratch) mergeRow(out *tableBuilder, cs []cursor, same []int, g string, h int64) {
	var s flight.Stats
	sc.hist = sc.hist[:0]
	sc.ds = sc.ds[:0]
	for _, ci := range same {
		c := &cs[ci]
		s.Merge(c.t.Stats(c.i))
		c.t.Hist(c.i, func(d int32, n int64) { sc.hist = append(sc.hist, histEntry{d, n}) })
		for j := 0; j < c.t.NumDests(c.i); j++ {
			sc.ds = append(sc.ds, c.t.Dest(c.i, j))
		}
		c.i++
	}
	out.row(g, h, s)
	if s.Count > 2 {
		hist := sc.hist
		slices.SortFunc(hist, func(a, b histEntry) int { return cmp.Compare(a.d, b.d) })
		for k := 0; k < len(hist); {
			d, n := hist[k].d, hist[k].n
			k++
			for k < len(hist) && hist[k].d == d {
				n += hist[k].n
				k++
			}
			out.hdv = append(out.hdv, d)
			out.hcv = append(out.hcv, n)
		}
	}
	ds := sc.ds
	slices.Sort(ds)
	for k, d := range ds {
		if k == 0 || d != ds[k-1] {
			out.dest(d)
		}
	}
	out.endLists()
}

// copyRows appends rows [lo, hi) of t as they are.
func copyRows(out *tableBuilder, t *Table, lo, hi int) {
	if lo >= hi {
		return
	}
	goff := t.group.ValueOffsets()
	gdata := t.group.ValueBytes()
	base := int32(len(out.groupData)) - goff[lo]
	out.groupData = append(out.groupData, gdata[goff[lo]:goff[hi]]...)
	for i := lo + 1; i <= hi; i++ {
		out.groupOff = append(out.groupOff, goff[i]+base)
	}
	out.hour = append(out.hour, t.hour[lo:hi]...)
	out.count = append(out.count, t.count[lo:hi]...)
	out.sum = append(out.sum, t.sum[lo:hi]...)
	out.delayed = append(out.delayed, t.dlyd[lo:hi]...)
	out.min = append(out.min, t.min[lo:hi]...)
	out.max = append(out.max, t.max[lo:hi]...)
	appendList(&out.hdOff, t.hd.Offsets(), lo, hi, int32(len(out.hdv)))
	hlo, hhi := t.hd.Offsets()[lo], t.hd.Offsets()[hi]
	out.hdv = append(out.hdv, t.hdv[hlo:hhi]...)
	appendList(&out.hcOff, t.hc.Offsets(), lo, hi, int32(len(out.hcv)))
	clo, chi := t.hc.Offsets()[lo], t.hc.Offsets()[hi]
	out.hcv = append(out.hcv, t.hcv[clo:chi]...)
	appendList(&out.dsOff, t.ds.Offsets(), lo, hi, int32(len(out.dsvOff)-1))
	dlo, dhi := t.ds.Offsets()[lo], t.ds.Offsets()[hi]
	if dhi > dlo {
		voff := t.dsv.ValueOffsets()
		vdata := t.dsv.ValueBytes()
		vbase := int32(len(out.dsvData)) - voff[dlo]
		out.dsvData = append(out.dsvData, vdata[voff[dlo]:voff[dhi]]...)
		for i := dlo + 1; i <= dhi; i++ {
			out.dsvOff = append(out.dsvOff, voff[i]+vbase)
		}
	}
}

// appendList appends the end offsets of rows [lo, hi) of a list, rebased.
func appendList(dst *[]int32, off []int32, lo, hi int, at int32) {
	base := at - off[lo]
	for i := lo + 1; i <= hi; i++ {
		*dst = append(*dst, off[i]+base)
	}
}
