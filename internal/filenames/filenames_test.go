package filenames

import "testing"

func TestSortKey(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct{ name, want string }{
		{"S20121122S9876_x.fits", "z201211229876"}, // domain brief example
		{"N20200101S0001.fits", "z202001010001"},
		{"N20200101S0001.fits.bz2", "z202001010001"},
		{"SDCH_20231005_0042.fits", "z202310050042"},
		{"SDCK_20231005_0042.fits", "z202310050042"},
		{"img_20220304_12h03m.fits", "y2022030412h03m"},
		{"20200101_GN-2020A-Q-1_obslog.txt", "x20200101GN-2020A-Q-1"},
		{"miscfile_abc.tar", "aaaamiscfile_abc.tar"},
		{"rgN20200101S0001.fits", "aaaargN20200101S0001.fits"},
	} {
		if got := SortKey(tc.name); got != tc.want {
			t.Errorf("SortKey(%q) = %q, want %q", tc.name, got, tc.want)
		}
	}
	// Newer observations sort higher; observations sort above obslogs and other files.
	if !(SortKey("N20200102S0001.fits") > SortKey("N20200101S0999.fits")) {
		t.Error("a later date does not sort higher")
	}
	if !(SortKey("N20000101S0001.fits") > SortKey("20991231_x_obslog.txt")) {
		t.Error("an observation does not sort above an obslog")
	}
}

func TestAccept(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name   string
		ok     bool
		reason string
	}{
		{"N20200101S0001.fits", true, ""},
		{"N20200101S0001.fits.bz2", true, ""},
		{"20200101_GN-2020A-Q-1_obslog.txt", true, ""},
		{"miscfile_123.pdf", true, ""},
		{"N20200101S0001_tmp.fits", false, SkipTemporary},
		{"tmpN20200101S0001.fits", false, SkipTemporary},
		{"N20200101S0001_tiled.fits", false, SkipTiled},
		{"N20200101S0001.jpg", false, SkipPreview},
		{"N20200101S0001.fits.jpg", false, SkipPreview},
		{"README.txt", false, SkipNotData},
		{".N20200101S0001.fits.swp", false, SkipHidden},
	} {
		ok, reason := Accept(tc.name)
		if ok != tc.ok || reason != tc.reason {
			t.Errorf("Accept(%q) = %v, %q; want %v, %q", tc.name, ok, reason, tc.ok, tc.reason)
		}
	}
}

func TestFileName(t *testing.T) {
	t.Parallel()
	if FileName("N20200101S0001.fits.bz2") != "N20200101S0001.fits" || FileName("a.fits") != "a.fits" {
		t.Error("FileName does not strip exactly a trailing .bz2")
	}
	if !Compressed("a.fits.bz2") || Compressed("a.fits") {
		t.Error("Compressed wrong")
	}
}

// The hand-written first rule must say exactly what its regexp says, for any name.
func FuzzObservationKey(f *testing.F) {
	for _, s := range []string{"N20200101S0001.fits", "S20121122S9876_x.fits", "N2020010S0001", "N20200101_1",
		"N202001011", "N20200101S", "N20200101S12345678901234567890.fits", "N2020０101S0001", "n20200101S0001", "N20200101é1"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, name string) {
		var want string
		m := sortRules[0].re.FindStringSubmatch(name)
		if m != nil {
			want = sortRules[0].priority + m[1] + m[2]
		}
		got, ok := observationKey(name)
		if ok != (m != nil) || got != want {
			t.Fatalf("observationKey(%q) = %q, %v; the regexp says %q, %v", name, got, ok, want, m != nil)
		}
	})
}
