package main

import (
	"bytes"
	"fmt"
	"image/color"
	"math"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"time"

	"gonum.org/v1/plot"
	"gonum.org/v1/plot/font"
	"gonum.org/v1/plot/plotter"
	"gonum.org/v1/plot/vg"
	"gonum.org/v1/plot/vg/draw"
	"gonum.org/v1/plot/vg/vgsvg"
)

// results are the comparisons of one run by metric name, and the floor of
// the sync measurement (0 when not measured): what the chart is drawn from.
type results struct {
	byName map[string]comparison
	floor  float64
}

func newResults() *results { return &results{byName: map[string]comparison{}} }

func (r *results) add(c comparison) { r.byName[c.name] = c }

// chartInfo says where the figures of a chart come from.
type chartInfo struct {
	commit  string // git rev-parse --short HEAD, "+dirty" when the tree is
	machine string // CPU model, cores, Go version, OS and architecture
	quick   bool
	at      time.Time
}

// newChartInfo describes this run: the commit of the repository around dir
// (the chart at chartPath, rewritten by every run, does not make it dirty)
// and this machine.
func newChartInfo(dir, chartPath string, quick bool) chartInfo {
	return chartInfo{
		commit:  gitCommit(dir, chartPath),
		machine: fmt.Sprintf("%s, %d cores, %s %s/%s", cpuModel(), runtime.NumCPU(), runtime.Version(), runtime.GOOS, runtime.GOARCH),
		quick:   quick,
		at:      time.Now().UTC(),
	}
}

// gitCommit returns the short hash of HEAD of the repository around dir,
// with "+dirty" when tracked files other than ignore differ from it, or
// "unknown commit".
func gitCommit(dir, ignore string) string {
	git := func(args ...string) (string, error) {
		cmd := exec.Command("git", args...)
		cmd.Dir = dir
		out, err := cmd.Output()
		return strings.TrimSpace(string(out)), err
	}
	hash, err := git("rev-parse", "--short", "HEAD")
	if err != nil || hash == "" {
		return "unknown commit"
	}
	args := []string{"status", "--porcelain", "--untracked-files=no", "--", ":(top)"}
	if root := repositoryRoot(dir); ignore != "" {
		if rel, err := filepath.Rel(root, ignore); err == nil && filepath.IsLocal(rel) {
			args = append(args, ":(top,exclude)"+filepath.ToSlash(rel))
		}
	}
	if status, err := git(args...); err != nil || status != "" {
		hash += "+dirty"
	}
	return hash
}

// repositoryRoot returns the top of the repository around dir, or dir's
// parent (bench/ is one level down) when git does not say.
func repositoryRoot(dir string) string {
	cmd := exec.Command("git", "rev-parse", "--show-toplevel")
	cmd.Dir = dir
	if out, err := cmd.Output(); err == nil {
		if root := strings.TrimSpace(string(out)); root != "" {
			return root
		}
	}
	return filepath.Dir(dir)
}

// The colours of the three libraries, the same in every panel.
var libColors = map[string]color.Color{
	libOurs: color.RGBA{R: 0x1f, G: 0x77, B: 0xb4, A: 0xff},
	libRaw:  color.RGBA{R: 0xff, G: 0x7f, B: 0x0e, A: 0xff},
	libCtrl: color.RGBA{R: 0x2c, G: 0xa0, B: 0x2c, A: 0xff},
}

// barGroup is one group of three bars (ours, raw, ctrl) of a panel: the
// comparison named metric, its values divided by scale.
type barGroup struct {
	label  string
	metric string
}

// panel is one plot of the chart.
type panel struct {
	title, unit string
	scale       float64
	decimals    int
	groups      []barGroup
}

// chartPanels are the headline figures: memory per cached pod, sync time
// against the LIST floor, peak memory during the sync.
var chartPanels = []panel{
	{title: "Heap per cached pod, 10k pods", unit: "KB", scale: 1000, decimals: 1, groups: []barGroup{
		{"typed", "heap_bytes_per_pod_10k"},
		{"typed, no sharing", "heap_bytes_per_pod_no_sharing_10k"},
		{"metadata only", "heap_bytes_per_pod_metadata_vs_raw_metadata_10k"},
		{"unstructured", "heap_bytes_per_pod_unstructured_10k"},
	}},
	{title: "Initial sync of 10k pods, real API server", unit: "s", scale: 1, decimals: 2, groups: []barGroup{
		{"wall time", "sync_seconds_10k"},
		{"client CPU", "sync_cpu_seconds_10k"},
	}},
	{title: "Peak memory during the sync of 10k pods", unit: "MB", scale: 1e6, decimals: 0, groups: []barGroup{
		{"heap", "peak_heap_bytes_sync_10k"},
		{"RSS", "peak_rss_bytes_sync_10k"},
	}},
}

// chartWidth and chartHeight are the size of the chart.
const chartWidth, chartHeight = 36 * vg.Centimeter, 13 * vg.Centimeter

// writeChart draws the headline figures of res as an SVG into path.
func writeChart(path string, res *results, info chartInfo) error {
	canvas := vgsvg.New(chartWidth, chartHeight)
	if err := drawChart(draw.New(canvas), res, info); err != nil {
		return err
	}
	var out bytes.Buffer
	if _, err := canvas.WriteTo(&out); err != nil {
		return err
	}
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return err
	}
	return os.WriteFile(path, out.Bytes(), 0o644)
}

// drawChart draws the panels of chartPanels side by side on dc, and below
// them where the figures come from.
func drawChart(dc draw.Canvas, res *results, info chartInfo) error {
	const footer = 1.4 * vg.Centimeter
	plots := [][]*plot.Plot{make([]*plot.Plot, len(chartPanels))}
	for i, pn := range chartPanels {
		p, err := pn.plot(res, i == 0)
		if err != nil {
			return err
		}
		plots[0][i] = p
	}
	tiles := draw.Tiles{Rows: 1, Cols: len(chartPanels), PadX: vg.Centimeter, PadTop: 3 * vg.Millimeter,
		PadLeft: 3 * vg.Millimeter, PadRight: 3 * vg.Millimeter}
	canvases := plot.Align(plots, tiles, draw.Crop(dc, 0, 0, footer, 0))
	for i, p := range plots[0] {
		p.Draw(canvases[0][i])
	}

	mode := "full run"
	if info.quick {
		mode = "QUICK=1 run (development figures)"
	}
	style := draw.TextStyle{Color: color.Black, Font: font.From(plot.DefaultFont, 9), Handler: plot.DefaultTextHandler}
	lines := []string{
		fmt.Sprintf("informer bench/cmd/compare, %s, commit %s, %s UTC. Bars: ours (this library, default options), raw client-go, controller-runtime; lower is better.", mode, info.commit, info.at.Format("2006-01-02 15:04")),
		fmt.Sprintf("Machine: %s. \"typed, no sharing\": ours with WithStringSharing(false). Sync: medians of runs; dashed line: one plain protobuf LIST of the same pods (the floor).", info.machine),
	}
	for i, line := range lines {
		dc.FillText(style, vg.Point{X: dc.Min.X + 3*vg.Millimeter, Y: dc.Min.Y + footer - vg.Length(i+1)*4.5*vg.Millimeter}, line)
	}
	return nil
}

// plot draws pn from res; legend says whether this panel carries the
// legend of the libraries.
func (pn panel) plot(res *results, legend bool) (*plot.Plot, error) {
	p := plot.New()
	p.Title.Text = pn.title
	p.Title.TextStyle.Font.Size = 11
	p.Y.Label.Text = pn.unit
	p.Y.Min = 0
	names := make([]string, len(pn.groups))
	for i, g := range pn.groups {
		names[i] = g.label
		if _, ok := res.byName[g.metric]; !ok {
			names[i] += " (not measured)"
		}
	}
	p.NominalX(names...)
	p.X.Min, p.X.Max = -0.6, float64(len(pn.groups))-0.4
	const barWidth = 14 * vg.Millimeter / 3
	top := 0.0
	for k, lib := range typedLibs {
		values := make(plotter.Values, len(pn.groups))
		for i, g := range pn.groups {
			if c, ok := res.byName[g.metric]; ok {
				values[i] = map[string]float64{libOurs: c.ours, libRaw: c.raw, libCtrl: c.ctrl}[lib] / pn.scale
				top = math.Max(top, values[i])
			}
		}
		bars, err := plotter.NewBarChart(values, barWidth)
		if err != nil {
			return nil, fmt.Errorf("chart %q: %w", pn.title, err)
		}
		bars.Color = libColors[lib]
		bars.LineStyle.Width = 0
		bars.Offset = vg.Length(k-1) * barWidth
		p.Add(bars)
		if legend {
			p.Legend.Add(map[string]string{libOurs: "ours", libRaw: "raw client-go", libCtrl: "controller-runtime"}[lib], bars)
		}
		labels, err := valueLabels(values, pn.decimals, bars.Offset)
		if err != nil {
			return nil, err
		}
		if labels != nil {
			p.Add(labels)
		}
	}
	if pn.groups[0].metric == "sync_seconds_10k" && res.floor > 0 {
		floor, err := plotter.NewLine(plotter.XYs{{X: -0.45, Y: res.floor}, {X: 0.45, Y: res.floor}})
		if err != nil {
			return nil, err
		}
		floor.Dashes = []vg.Length{2 * vg.Millimeter, vg.Millimeter}
		floor.Width = vg.Points(1.5)
		p.Add(floor)
		p.Legend.Add(fmt.Sprintf("LIST floor %.2f s", res.floor), floor)
		top = math.Max(top, res.floor)
	}
	p.Legend.Top = true
	p.Legend.TextStyle.Font.Size = 9
	// Room above the bars for the value labels and the legend.
	p.Y.Max = top * 1.35
	if top == 0 {
		p.Y.Max = 1
	}
	return p, nil
}

// valueLabels writes each non-zero value above its bar; nil when all are
// zero.
func valueLabels(values plotter.Values, decimals int, offset vg.Length) (*plotter.Labels, error) {
	var xys plotter.XYs
	var texts []string
	for i, v := range values {
		if v == 0 {
			continue
		}
		xys = append(xys, plotter.XY{X: float64(i), Y: v})
		texts = append(texts, fmt.Sprintf("%.*f", decimals, v))
	}
	if len(xys) == 0 {
		return nil, nil
	}
	labels, err := plotter.NewLabels(plotter.XYLabels{XYs: xys, Labels: texts})
	if err != nil {
		return nil, err
	}
	for i := range labels.TextStyle {
		labels.TextStyle[i].Font.Size = 7
		labels.TextStyle[i].XAlign = draw.XCenter
	}
	labels.Offset = vg.Point{X: offset, Y: vg.Millimeter}
	return labels, nil
}
