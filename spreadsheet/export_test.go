package spreadsheet

import "io"

// WriteLetterPDFWholeFonts writes the letter embedding the whole fonts, as
// every letter did before the fonts were parsed once: the baseline of
// the letter's allocation measurements.
func WriteLetterPDFWholeFonts(w io.Writer, l *Letter) error {
	_, err := writeLetterPDF(w, l, latinFont, cjkFont)
	return err
}
