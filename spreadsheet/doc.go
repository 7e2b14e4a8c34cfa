// Package spreadsheet reads and writes the files planners live in: CSV and
// XLSX files of actuals to import, target grids exported for people (and
// read back after they edited them), and target letters. It knows file
// layouts and nothing about storage or HTTP: callers hand it domain values
// and readers, and it hands back domain values and every problem it found,
// by sheet, row and column.
//
// Numbers in XLSX files are IEEE doubles, which spreadsheet programs show at
// 15 significant digits. Amounts are written as numbers (so people can sum
// and chart them) and, where a file is meant to come back, also as exact
// text in a hidden sheet; numbers read back are taken at 15 significant
// digits.
//
// Files people upload are read by this package's own streaming XLSX reader
// (excelize only writes), within Limits: only the parts needed are
// unpacked, each within a budget, every XML token within a cell's length,
// shared strings, columns and cells counted as they come, so what a file
// unpacks to never decides what reading it takes.
package spreadsheet
