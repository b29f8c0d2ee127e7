package tui

import "strings"

// column is one column of a table. Columns with a higher drop number are
// dropped first when the terminal is narrow; the grow column takes the
// remaining width.
type column struct {
	title string
	width int
	drop  int // 0 = never dropped
	right bool
	grow  bool
	mid   bool // a name: cut in the middle (midCut), never at the end
	min   int  // when set, the column narrows to min before any column is dropped
}

// fitColumns keeps the columns that fit in total cells (one space between
// columns) and returns their indices with final widths.
func fitColumns(cols []column, total, minGrow int) ([]int, []int) {
	keep := make([]bool, len(cols))
	width := make([]int, len(cols))
	for i, c := range cols {
		keep[i], width[i] = true, c.width
	}
	used := func() int {
		n, k := 0, 0
		for i, c := range cols {
			if keep[i] {
				n += width[i]
				if c.grow {
					n += minGrow - width[i]
				}
				k++
			}
		}
		return n + max(k-1, 0)
	}
	// shrink narrows the min columns by over cells if they can give that
	// much (or if force): a column is dropped only when narrowing is not
	// enough.
	shrink := func(over int, force bool) bool {
		room := 0
		for i, c := range cols {
			if keep[i] && c.min > 0 && !c.grow {
				room += width[i] - c.min
			}
		}
		if room < over && !force {
			return false
		}
		for i, c := range cols {
			if keep[i] && c.min > 0 && !c.grow && over > 0 {
				give := min(width[i]-c.min, over)
				width[i] -= give
				over -= give
			}
		}
		return true
	}
	for used() > total && !shrink(used()-total, false) {
		worst := -1
		for i, c := range cols {
			if keep[i] && c.drop > 0 && (worst < 0 || c.drop > cols[worst].drop) {
				worst = i
			}
		}
		if worst < 0 {
			shrink(used()-total, true)
			break
		}
		keep[worst] = false
	}
	var idx, widths []int
	rest := total - used()
	for i, c := range cols {
		if !keep[i] {
			continue
		}
		w := width[i]
		if c.grow {
			w = max(minGrow+rest, 1)
		}
		idx = append(idx, i)
		widths = append(widths, w)
	}
	return idx, widths
}

// renderRow lays out the values of the kept columns.
func renderRow(cols []column, idx, widths []int, values []string) string {
	return layoutRow(cols, idx, widths, values, true)
}

// renderTitles lays out column titles: a title is a word, cut at its end
// when it must be, never in the middle like a name.
func renderTitles(cols []column, idx, widths []int, titles []string) string {
	return layoutRow(cols, idx, widths, titles, false)
}

func layoutRow(cols []column, idx, widths []int, values []string, names bool) string {
	var b strings.Builder
	for k, i := range idx {
		if k > 0 {
			b.WriteByte(' ')
		}
		switch {
		case cols[i].right:
			b.WriteString(rcol(values[i], widths[k]))
		case cols[i].mid && names:
			b.WriteString(midCut(values[i], widths[k]))
		default:
			b.WriteString(col(values[i], widths[k]))
		}
	}
	return b.String()
}
