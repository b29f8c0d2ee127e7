package termscreen

import "testing"

func TestScreenFollowsMovesAndErases(t *testing.T) {
	s := New(10, 3)
	writes := []string{
		"\x1b[?1049h\x1b[2J\x1b[H", "hello", "\r\n\x1b[1mworld\x1b[0m!", "\x1b[1;2Ha", "\x1b[2;6H\x1b[K",
		"\x1b[3;1H报表x", "\x1b[", "3;9Hzz", // a sequence cut between two writes
	}
	for _, w := range writes {
		s.Write([]byte(w))
	}
	want := "hallo\nworld\n报表x   zz"
	if got := s.Text(); got != want {
		t.Errorf("screen\n%q\nwant\n%q", got, want)
	}
	s.Write([]byte("\x1b[2;1H\x1b[J"))
	if got := s.Text(); got != "hallo\n\n" {
		t.Errorf("after erase below: %q", got)
	}
}
