//! The five figures. Each `draw_*` takes its data struct and an output path (.png or .svg).

use anyhow::{Result, ensure};
use plotters::coord::Shift;
use plotters::coord::ranged1d::{DefaultFormatting, KeyPointHint};
use plotters::prelude::*;
use plotters::style::text_anchor::{HPos, Pos, VPos};
use std::ops::Range;
use std::path::Path;

use super::axis::{Axis, sig3};
use super::data::{CompareData, LayersData, PackingData, ParetoData, ValidationData};
use super::{FAMILY, Figure, save};

/// Distinct colours (Tableau 10).
pub(crate) const PALETTE: [RGBColor; 10] = [
    RGBColor(31, 119, 180),
    RGBColor(255, 127, 14),
    RGBColor(44, 160, 44),
    RGBColor(214, 39, 40),
    RGBColor(148, 103, 189),
    RGBColor(140, 86, 75),
    RGBColor(227, 119, 194),
    RGBColor(127, 127, 127),
    RGBColor(188, 189, 34),
    RGBColor(23, 190, 207),
];

fn color(i: usize) -> RGBColor {
    PALETTE[i % PALETTE.len()]
}

const GRAY: RGBColor = RGBColor(110, 110, 110);

fn font(size: u32) -> TextStyle<'static> {
    (FAMILY, size).into_font().into()
}

fn bold(size: u32) -> TextStyle<'static> {
    (FAMILY, size).into_font().style(FontStyle::Bold).into()
}

/// Display name of a protocol.
fn proto_name(p: &str) -> String {
    match p {
        "cryptflow2" => "CrypTFlow2".into(),
        "cheetah" => "Cheetah".into(),
        "gazelle-input" => "Gazelle (IR)".into(),
        "gazelle-output" => "Gazelle (OR)".into(),
        "gala" => "GALA".into(),
        other => other.into(),
    }
}

/// A linear f64 coordinate whose ticks are given (labels come from the chart's formatters).
#[derive(Clone)]
struct Coord {
    range: Range<f64>,
    ticks: Vec<f64>,
}

impl Ranged for Coord {
    type FormatOption = DefaultFormatting;
    type ValueType = f64;

    fn map(&self, v: &f64, limit: (i32, i32)) -> i32 {
        let span = self.range.end - self.range.start;
        let f = if span > 0.0 {
            (v - self.range.start) / span
        } else {
            0.5
        };
        limit.0 + (f * (limit.1 - limit.0) as f64).round() as i32
    }

    fn key_points<H: KeyPointHint>(&self, hint: H) -> Vec<f64> {
        // Bold points only: no light grid lines.
        if hint.weight().allow_light_points() {
            Vec::new()
        } else {
            self.ticks.clone()
        }
    }

    fn range(&self) -> Range<f64> {
        self.range.clone()
    }
}

fn coord(range: Range<f64>, ticks: Vec<f64>) -> Coord {
    Coord { range, ticks }
}

/// Index axis for categories 0..n (one tick each).
fn categories(n: usize) -> Coord {
    coord(
        -0.5..(n.max(1) as f64 - 0.5),
        (0..n).map(|i| i as f64).collect(),
    )
}

/// The series legend inside a chart, in the figures' common style.
fn legend<'a, DB: DrawingBackend + 'a, CT: CoordTranslate>(
    c: &mut ChartContext<'a, DB, CT>,
    position: SeriesLabelPosition,
) -> Result<()>
where
    DB::ErrorType: 'static,
{
    c.configure_series_labels()
        .position(position)
        .label_font(font(15))
        .background_style(WHITE.mix(0.9))
        .border_style(BLACK.mix(0.5))
        .margin(12)
        .draw()?;
    Ok(())
}

/// A legend entry's symbol.
#[derive(Clone, Copy)]
enum Mark {
    Bar(RGBColor),
    LineDot(RGBColor),
    LineTri(RGBColor),
}

fn draw_mark<DB: DrawingBackend>(
    area: &DrawingArea<DB, Shift>,
    m: Mark,
    (x, y): (i32, i32),
) -> Result<()>
where
    DB::ErrorType: 'static,
{
    match m {
        Mark::Bar(c) => area.draw(&Rectangle::new([(x, y - 7), (x + 18, y + 7)], c.filled()))?,
        Mark::LineDot(c) => {
            area.draw(&PathElement::new(
                vec![(x - 4, y), (x + 22, y)],
                c.stroke_width(2),
            ))?;
            area.draw(&Circle::new((x + 9, y), 5, c.filled()))?
        }
        Mark::LineTri(c) => {
            area.draw(&PathElement::new(
                vec![(x - 4, y), (x + 22, y)],
                c.stroke_width(2),
            ))?;
            area.draw(&TriangleMarker::new((x + 9, y), 6, c.filled()))?
        }
    }
    Ok(())
}

/// A centred row of legend entries along the top of `area`.
fn legend_row<DB: DrawingBackend>(
    area: &DrawingArea<DB, Shift>,
    items: &[(String, Mark)],
) -> Result<()>
where
    DB::ErrorType: 'static,
{
    let style = font(16);
    let gap = 30;
    let widths = items
        .iter()
        .map(|(t, _)| Ok(area.estimate_text_size(t, &style)?.0 as i32 + 26))
        .collect::<Result<Vec<_>>>()?;
    let total: i32 = widths.iter().sum::<i32>() + gap * (items.len() as i32 - 1).max(0);
    let (w, h) = area.dim_in_pixel();
    let mut x = ((w as i32 - total) / 2).max(4);
    let y = h as i32 / 2;
    for ((text, mark), width) in items.iter().zip(widths) {
        draw_mark(area, *mark, (x, y))?;
        area.draw(&Text::new(
            text.clone(),
            (x + 26, y),
            style.pos(Pos::new(HPos::Left, VPos::Center)),
        ))?;
        x += width + gap;
    }
    Ok(())
}

/// Title (bold) and, below it, a legend row; returns the rest of the area.
fn header<DB: DrawingBackend>(
    root: &DrawingArea<DB, Shift>,
    title: &str,
    subtitle: Option<&str>,
    legend: &[(String, Mark)],
) -> Result<DrawingArea<DB, Shift>>
where
    DB::ErrorType: 'static,
{
    let (w, _) = root.dim_in_pixel();
    let title_h = if subtitle.is_some() { 64 } else { 44 };
    let (top, rest) = root.split_vertically(title_h);
    top.draw(&Text::new(
        title.to_string(),
        (w as i32 / 2, 24),
        bold(24).pos(Pos::new(HPos::Center, VPos::Center)),
    ))?;
    if let Some(s) = subtitle {
        top.draw(&Text::new(
            s.to_string(),
            (w as i32 / 2, 52),
            font(15)
                .color(&GRAY)
                .pos(Pos::new(HPos::Center, VPos::Center)),
        ))?;
    }
    if legend.is_empty() {
        return Ok(rest);
    }
    let (leg, body) = rest.split_vertically(36);
    legend_row(&leg, legend)?;
    Ok(body)
}

/// Longest rendered width of `names` at `style`.
fn text_width<DB: DrawingBackend>(
    area: &DrawingArea<DB, Shift>,
    names: &[String],
    style: &TextStyle,
) -> Result<u32>
where
    DB::ErrorType: 'static,
{
    let mut w = 0;
    for n in names {
        w = w.max(area.estimate_text_size(n, style)?.0);
    }
    Ok(w)
}

// ---------------------------------------------------------------------------------------------
// layers

struct LayersFig<'a>(&'a LayersData);

const ROW: u32 = 24;

impl Figure for LayersFig<'_> {
    fn size(&self) -> (u32, u32) {
        let n = self.0.layers.len() as u32;
        (1800, (230 + n * ROW).max(520))
    }

    fn draw<DB: DrawingBackend>(&self, root: &DrawingArea<DB, Shift>) -> Result<()>
    where
        DB::ErrorType: 'static,
    {
        let d = self.0;
        let n = d.layers.len();
        let names: Vec<String> = d
            .layers
            .iter()
            .map(|l| super::short_name(&l.name))
            .collect();
        let title = format!(
            "{}: per-layer HE operations under {} ({} link)",
            d.network,
            proto_name(&d.protocol),
            d.link
        );
        let subtitle = format!(
            "{n} layers with HE work (layers without HE work are left out); first layer at the top"
        );
        let legend = [
            ("internal rotations".to_string(), Mark::Bar(color(0))),
            ("external rotations".to_string(), Mark::Bar(color(1))),
            ("scalar multiplications".to_string(), Mark::Bar(color(2))),
            ("MB up (client to server)".to_string(), Mark::Bar(color(4))),
            (
                "MB down (server to client)".to_string(),
                Mark::Bar(color(5)),
            ),
        ];
        let body = header(root, &title, Some(&subtitle), &legend)?;
        let tick = font(14);
        let label_w = text_width(&body, &names, &tick)? + 16;
        let (w, _) = body.dim_in_pixel();
        let panel = (w - label_w) / 3;
        let (p1, rest) = body.split_horizontally(label_w + panel);
        let (p2, p3) = rest.split_horizontally(panel);

        let y_of = |i: usize| (n - 1 - i) as f64;
        let name_at = |v: &f64| {
            let k = v.round();
            if k < 0.0 || k >= n as f64 {
                return String::new();
            }
            names[n - 1 - k as usize].clone()
        };
        let half = 0.38;

        // Panel 1: rotations, internal + external stacked.
        let xa = Axis::from_zero(
            d.layers
                .iter()
                .map(|l| (l.internal_rot + l.external_rot) as f64),
        );
        let panel1 = BarPanel {
            caption: "rotations",
            x_desc: "rotations per layer (count)",
            label_w,
            margin_right: 24,
        };
        let mut c = panel1.chart(&p1, &xa, n, &name_at)?;
        c.draw_series(d.layers.iter().enumerate().map(|(i, l)| {
            let y = y_of(i);
            Rectangle::new(
                [(0.0, y - half), (l.internal_rot as f64, y + half)],
                color(0).filled(),
            )
        }))?;
        c.draw_series(d.layers.iter().enumerate().map(|(i, l)| {
            let y = y_of(i);
            let a = l.internal_rot as f64;
            Rectangle::new(
                [(a, y - half), (a + l.external_rot as f64, y + half)],
                color(1).filled(),
            )
        }))?;

        // Panel 2: scalar multiplications.
        let xs = Axis::from_zero(d.layers.iter().map(|l| l.scmult as f64));
        let panel2 = BarPanel {
            caption: "scalar multiplications",
            x_desc: "plaintext-ciphertext multiplications per layer (count)",
            label_w: 8,
            margin_right: 24,
        };
        let mut c = panel2.chart(&p2, &xs, n, &|_| String::new())?;
        c.draw_series(d.layers.iter().enumerate().map(|(i, l)| {
            let y = y_of(i);
            Rectangle::new(
                [(0.0, y - half), (l.scmult as f64, y + half)],
                color(2).filled(),
            )
        }))?;

        // Panel 3: ciphertext traffic, up and down side by side.
        let mb = |b: u64| b as f64 / 1e6;
        let xm = Axis::from_zero(
            d.layers
                .iter()
                .flat_map(|l| [mb(l.bytes_up), mb(l.bytes_down)]),
        );
        let panel3 = BarPanel {
            caption: "HE ciphertext traffic",
            x_desc: "MB per layer (10^6 bytes)",
            label_w: 8,
            margin_right: 30,
        };
        let mut c = panel3.chart(&p3, &xm, n, &|_| String::new())?;
        c.draw_series(d.layers.iter().enumerate().map(|(i, l)| {
            let y = y_of(i);
            Rectangle::new([(0.0, y), (mb(l.bytes_up), y + half)], color(4).filled())
        }))?;
        c.draw_series(d.layers.iter().enumerate().map(|(i, l)| {
            let y = y_of(i);
            Rectangle::new([(0.0, y - half), (mb(l.bytes_down), y)], color(5).filled())
        }))?;
        Ok(())
    }
}

/// One panel of the layers figure: horizontal bars, one category row per layer.
struct BarPanel {
    caption: &'static str,
    x_desc: &'static str,
    /// Width of the y label area (the layer names on the first panel only).
    label_w: u32,
    margin_right: u32,
}

impl BarPanel {
    /// The panel's chart with its mesh and x axis drawn.
    fn chart<'a, DB: DrawingBackend>(
        &self,
        area: &'a DrawingArea<DB, Shift>,
        x: &Axis,
        n: usize,
        y_label: &dyn Fn(&f64) -> String,
    ) -> Result<ChartContext<'a, DB, Cartesian2d<Coord, Coord>>>
    where
        DB::ErrorType: 'static,
    {
        let mut c = ChartBuilder::on(area)
            .margin_top(8)
            .margin_right(self.margin_right)
            .x_label_area_size(46)
            .y_label_area_size(self.label_w)
            .caption(self.caption, bold(17))
            .build_cartesian_2d(coord(x.range(), x.ticks()), categories(n))?;
        c.configure_mesh()
            .disable_y_mesh()
            .label_style(font(14))
            .axis_desc_style(font(15))
            .x_desc(self.x_desc)
            .x_label_formatter(&|v| x.label(*v))
            .y_label_formatter(y_label)
            .draw()?;
        Ok(c)
    }
}

/// Per-layer rotations (internal vs external, stacked), scalar multiplications and ciphertext
/// MB up/down, one horizontal bar per HE layer.
pub fn draw_layers(data: &LayersData, out: &Path) -> Result<()> {
    ensure!(!data.layers.is_empty(), "no layer with HE work to plot");
    save(&LayersFig(data), out)
}

// ---------------------------------------------------------------------------------------------
// packing

struct PackingFig<'a>(&'a PackingData);

/// Line + marker of the `i`-th protocol series.
fn series_marks(i: usize) -> Mark {
    if i.is_multiple_of(2) {
        Mark::LineDot(color(i))
    } else {
        Mark::LineTri(color(i))
    }
}

fn draw_markers<DB: DrawingBackend>(
    c: &mut ChartContext<DB, Cartesian2d<Coord, Coord>>,
    pts: &[(f64, f64)],
    i: usize,
) -> Result<()>
where
    DB::ErrorType: 'static,
{
    let col = color(i);
    if i.is_multiple_of(2) {
        c.draw_series(pts.iter().map(|&p| Circle::new(p, 5, col.filled())))?;
    } else {
        c.draw_series(pts.iter().map(|&p| TriangleMarker::new(p, 6, col.filled())))?;
    }
    Ok(())
}

impl Figure for PackingFig<'_> {
    fn size(&self) -> (u32, u32) {
        (1500, 1000)
    }

    fn draw<DB: DrawingBackend>(&self, root: &DrawingArea<DB, Shift>) -> Result<()>
    where
        DB::ErrorType: 'static,
    {
        let d = self.0;
        let legend: Vec<(String, Mark)> = d
            .series
            .iter()
            .enumerate()
            .map(|(i, s)| {
                let kind = match s.protocol.as_str() {
                    "cryptflow2" => " (SIMD slot packing)",
                    "cheetah" => " (coefficient packing)",
                    _ => "",
                };
                (
                    format!("{}{kind}", proto_name(&s.protocol)),
                    series_marks(i),
                )
            })
            .collect();
        let title = format!("{}: packing layout per HE layer", d.network);
        let body = header(
            root,
            &title,
            Some("depth = index among the layers with HE work; log scale"),
            &legend,
        )?;
        let depth_max = d
            .series
            .iter()
            .flat_map(|s| s.points.iter().map(|p| p.depth))
            .max()
            .unwrap_or(0);
        let xa = Axis::from_zero([depth_max as f64]);
        let xr = -0.5..(depth_max as f64 + 0.5);
        let xt: Vec<f64> = xa
            .ticks()
            .into_iter()
            .filter(|t| *t <= depth_max as f64)
            .collect();
        let panels = body.split_evenly((2, 1));
        type Get = fn(&super::data::PackingPoint) -> u64;
        let specs: [(&str, &str, Get); 2] = [
            ("channels per ciphertext (cn)", "cn (channels)", |p| p.cn),
            (
                "input ciphertexts sent per layer (ct up)",
                "ciphertexts (count)",
                |p| p.ct_up,
            ),
        ];
        for (panel, (caption, ydesc, get)) in panels.iter().zip(specs) {
            let ya = Axis::log_of(
                d.series
                    .iter()
                    .flat_map(|s| s.points.iter().map(|p| get(p) as f64)),
            );
            let mut c = ChartBuilder::on(panel)
                .margin(10)
                .margin_right(30)
                .x_label_area_size(46)
                .y_label_area_size(80)
                .caption(caption, bold(18))
                .build_cartesian_2d(coord(xr.clone(), xt.clone()), coord(ya.range(), ya.ticks()))?;
            c.configure_mesh()
                .label_style(font(14))
                .axis_desc_style(font(15))
                .x_desc("HE layer depth")
                .y_desc(ydesc)
                .x_label_formatter(&|v| format!("{}", v.round() as i64))
                .y_label_formatter(&|v| ya.label(*v))
                .draw()?;
            for (i, s) in d.series.iter().enumerate() {
                let pts: Vec<(f64, f64)> = s
                    .points
                    .iter()
                    .map(|p| (p.depth as f64, ya.t(get(p) as f64)))
                    .collect();
                c.draw_series(LineSeries::new(pts.clone(), color(i).stroke_width(2)))?;
                draw_markers(&mut c, &pts, i)?;
            }
        }
        Ok(())
    }
}

/// Channels per ciphertext and ciphertexts sent per HE layer, against depth, one line per
/// packing; log-scale y.
pub fn draw_packing(data: &PackingData, out: &Path) -> Result<()> {
    ensure!(
        data.series.iter().any(|s| !s.points.is_empty()),
        "no layer with HE work to plot"
    );
    save(&PackingFig(data), out)
}

// ---------------------------------------------------------------------------------------------
// compare

struct CompareFig<'a> {
    data: &'a CompareData,
    networks: Vec<String>,
    cats: Vec<(String, String)>,
    cols: usize,
}

impl<'a> CompareFig<'a> {
    fn new(data: &'a CompareData) -> CompareFig<'a> {
        let mut networks: Vec<String> = Vec::new();
        let mut cats: Vec<(String, String)> = Vec::new();
        for e in &data.entries {
            if !networks.contains(&e.network) {
                networks.push(e.network.clone());
            }
            let k = (e.protocol.clone(), e.link.clone());
            if !cats.contains(&k) {
                cats.push(k);
            }
        }
        let cols = if cats.len() > 4 { 2 } else { 3 }.min(networks.len());
        CompareFig {
            data,
            networks,
            cats,
            cols,
        }
    }
}

impl Figure for CompareFig<'_> {
    fn size(&self) -> (u32, u32) {
        let rows = self.networks.len().div_ceil(self.cols) as u32;
        let pw = (130 * self.cats.len() as u32 + 110).max(520);
        (pw * self.cols as u32, 130 + rows * 460)
    }

    fn draw<DB: DrawingBackend>(&self, root: &DrawingArea<DB, Shift>) -> Result<()>
    where
        DB::ErrorType: 'static,
    {
        let legend = [
            ("HE compute".to_string(), Mark::Bar(color(0))),
            (
                "HE communication (ciphertexts + round trip)".to_string(),
                Mark::Bar(color(1)),
            ),
            (
                "non-linear protocols (bytes + rounds)".to_string(),
                Mark::Bar(color(2)),
            ),
        ];
        let body = header(
            root,
            "Estimated end-to-end latency per network, protocol and link",
            Some("stacked parts sum to the estimated latency; each panel has its own scale"),
            &legend,
        )?;
        let rows = self.networks.len().div_ceil(self.cols);
        let panels = body.split_evenly((rows, self.cols));
        let cat_label = |k: usize| {
            let (p, l) = &self.cats[k];
            format!("{} {}", proto_name(p), l.to_uppercase())
        };
        for (panel, net) in panels.iter().zip(&self.networks) {
            let entries: Vec<(usize, &super::data::CompareEntry)> = self
                .data
                .entries
                .iter()
                .filter(|e| &e.network == net)
                .map(|e| {
                    let k = self
                        .cats
                        .iter()
                        .position(|(p, l)| p == &e.protocol && l == &e.link)
                        .unwrap_or(0);
                    (k, e)
                })
                .collect();
            let max = entries
                .iter()
                .map(|(_, e)| e.total_ms())
                .fold(0.0, f64::max);
            let (scale, unit) = if max >= 10_000.0 {
                (1e-3, "s")
            } else {
                (1.0, "ms")
            };
            let ya = Axis::from_zero([max * scale * 1.06]);
            let mut c = ChartBuilder::on(panel)
                .margin(10)
                .margin_right(20)
                .x_label_area_size(36)
                .y_label_area_size(70)
                .caption(net, bold(18))
                .build_cartesian_2d(categories(self.cats.len()), coord(ya.range(), ya.ticks()))?;
            c.configure_mesh()
                .disable_x_mesh()
                .label_style(font(14))
                .axis_desc_style(font(15))
                .y_desc(format!("latency ({unit})"))
                .x_label_formatter(&|v| {
                    let k = v.round();
                    if k >= 0.0 && (k as usize) < self.cats.len() {
                        cat_label(k as usize)
                    } else {
                        String::new()
                    }
                })
                .y_label_formatter(&|v| ya.label(*v))
                .draw()?;
            let half = 0.32;
            let parts: [fn(&super::data::CompareEntry) -> f64; 3] =
                [|e| e.compute_ms, |e| e.he_comm_ms, |e| e.nonlinear_ms];
            for (j, part) in parts.iter().enumerate() {
                c.draw_series(entries.iter().map(|(k, e)| {
                    let x = *k as f64;
                    let below: f64 = parts[..j].iter().map(|p| p(e)).sum();
                    Rectangle::new(
                        [
                            (x - half, below * scale),
                            (x + half, (below + part(e)) * scale),
                        ],
                        color(j).filled(),
                    )
                }))?;
            }
            c.draw_series(entries.iter().map(|(k, e)| {
                Text::new(
                    format!("{} {unit}", sig3(e.total_ms() * scale)),
                    (*k as f64, e.total_ms() * scale),
                    font(14).pos(Pos::new(HPos::Center, VPos::Bottom)),
                )
            }))?;
        }
        Ok(())
    }
}

/// Estimated latency per network (one panel each) under every protocol and link, stacked
/// into HE compute, HE communication and non-linear time.
pub fn draw_compare(data: &CompareData, out: &Path) -> Result<()> {
    ensure!(!data.entries.is_empty(), "nothing to compare");
    save(&CompareFig::new(data), out)
}

// ---------------------------------------------------------------------------------------------
// pareto

struct ParetoFig<'a>(&'a ParetoData);

impl Figure for ParetoFig<'_> {
    fn size(&self) -> (u32, u32) {
        (1400, 950)
    }

    fn draw<DB: DrawingBackend>(&self, root: &DrawingArea<DB, Shift>) -> Result<()>
    where
        DB::ErrorType: 'static,
    {
        let d = self.0;
        let pts = || d.series.iter().flat_map(|s| s.all.iter().chain(&s.front));
        let max_ms = pts().map(|c| c.latency_ms).fold(0.0, f64::max);
        let (scale, unit) = if max_ms >= 2000.0 {
            (1e-3, "s")
        } else {
            (1.0, "ms")
        };
        let xs: Vec<f64> = pts().map(|c| c.params as f64 / 1e6).collect();
        let ys: Vec<f64> = pts().map(|c| c.latency_ms * scale).collect();
        let xa = Axis::auto(&xs, 30.0);
        let ya = Axis::auto(&ys, 30.0);
        let total: usize = d
            .series
            .iter()
            .map(|s| s.all.len().max(s.front.len()))
            .sum();
        let fronts: usize = d.series.iter().map(|s| s.front.len()).sum();
        let body = header(
            root,
            "Search results: estimated latency against model size",
            Some(&format!(
                "{total} candidates, {fronts} on the Pareto front{}",
                match (xa.log, ya.log) {
                    (true, true) => "; log-log axes",
                    (true, false) => "; log x axis",
                    (false, true) => "; log y axis",
                    _ => "",
                }
            )),
            &[],
        )?;
        let mut c = ChartBuilder::on(&body)
            .margin(16)
            .margin_right(30)
            .x_label_area_size(50)
            .y_label_area_size(80)
            .build_cartesian_2d(coord(xa.range(), xa.ticks()), coord(ya.range(), ya.ticks()))?;
        c.configure_mesh()
            .label_style(font(14))
            .axis_desc_style(font(16))
            .x_desc("parameters (millions)")
            .y_desc(format!("estimated latency ({unit})"))
            .x_label_formatter(&|v| xa.label(*v))
            .y_label_formatter(&|v| ya.label(*v))
            .draw()?;
        let at =
            |c: &super::data::Candidate| (xa.t(c.params as f64 / 1e6), ya.t(c.latency_ms * scale));
        for (i, s) in d.series.iter().enumerate() {
            let col = color(i);
            let infeasible: Vec<_> = s.all.iter().filter(|c| !c.feasible).map(at).collect();
            if !infeasible.is_empty() {
                let faint = col.mix(0.3);
                c.draw_series(
                    infeasible
                        .iter()
                        .map(|&p| Cross::new(p, 3, faint.stroke_width(1))),
                )?
                .label(format!("{}: infeasible ({})", s.label, infeasible.len()))
                .legend(move |(x, y)| Cross::new((x + 9, y), 5, col.stroke_width(2)));
            }
            let feasible: Vec<_> = s.all.iter().filter(|c| c.feasible).map(at).collect();
            if !feasible.is_empty() {
                let faint = col.mix(0.2);
                c.draw_series(feasible.iter().map(|&p| Circle::new(p, 2, faint.filled())))?
                    .label(format!("{}: feasible ({})", s.label, feasible.len()))
                    .legend(move |(x, y)| Circle::new((x + 9, y), 4, col.mix(0.5).filled()));
            }
        }
        // Fronts last, so no candidate cloud hides a front line.
        for (i, s) in d.series.iter().enumerate() {
            let col = color(i);
            if !s.front.is_empty() {
                let mut front: Vec<_> = s.front.iter().map(at).collect();
                front.sort_by(|a, b| a.0.total_cmp(&b.0));
                // A dark halo under the line keeps it visible over its own cloud.
                c.draw_series(LineSeries::new(front.clone(), BLACK.stroke_width(6)))?;
                c.draw_series(LineSeries::new(front.clone(), col.stroke_width(3)))?
                    .label(format!("{}: Pareto front ({})", s.label, front.len()))
                    .legend(move |(x, y)| {
                        PathElement::new(vec![(x - 2, y), (x + 20, y)], col.stroke_width(3))
                    });
                c.draw_series(
                    front
                        .iter()
                        .map(|&p| Circle::new(p, 6, ShapeStyle::from(&col).stroke_width(2))),
                )?;
            }
        }
        legend(&mut c, SeriesLabelPosition::UpperRight)?;
        Ok(())
    }
}

/// Latency against parameters (millions): every candidate (feasible dots, infeasible
/// crosses) and the Pareto front as a line, one colour per series.
pub fn draw_pareto(data: &ParetoData, out: &Path) -> Result<()> {
    ensure!(
        data.series
            .iter()
            .any(|s| !s.all.is_empty() || !s.front.is_empty()),
        "no candidates to plot"
    );
    save(&ParetoFig(data), out)
}

// ---------------------------------------------------------------------------------------------
// validation

struct ValidationFig<'a>(&'a ValidationData);

impl Figure for ValidationFig<'_> {
    fn size(&self) -> (u32, u32) {
        (1100, 1000)
    }

    fn draw<DB: DrawingBackend>(&self, root: &DrawingArea<DB, Shift>) -> Result<()>
    where
        DB::ErrorType: 'static,
    {
        let d = self.0;
        let all = || {
            d.series
                .iter()
                .flat_map(|s| s.points.iter())
                .flat_map(|p| [p.predicted, p.measured])
        };
        let ax = Axis::log_of(all());
        let mapes = d
            .series
            .iter()
            .map(|s| format!("{} {:.1}%", proto_name(&s.label), s.mape()))
            .collect::<Vec<_>>()
            .join(", ");
        let body = header(
            root,
            d.text[0],
            Some(&format!(
                "MAPE (mean |measured - predicted| / measured): {mapes}"
            )),
            &[],
        )?;
        let mut c = ChartBuilder::on(&body)
            .margin(16)
            .margin_right(40)
            .x_label_area_size(50)
            .y_label_area_size(80)
            .build_cartesian_2d(coord(ax.range(), ax.ticks()), coord(ax.range(), ax.ticks()))?;
        c.configure_mesh()
            .label_style(font(14))
            .axis_desc_style(font(16))
            .x_desc(d.text[1])
            .y_desc(d.text[2])
            .x_label_formatter(&|v| ax.label(*v))
            .y_label_formatter(&|v| ax.label(*v))
            .draw()?;
        let r = ax.range();
        c.draw_series(DashedLineSeries::new(
            vec![(r.start, r.start), (r.end, r.end)],
            8,
            6,
            GRAY.stroke_width(2),
        ))?
        .label("y = x (exact prediction)")
        .legend(|(x, y)| PathElement::new(vec![(x - 2, y), (x + 20, y)], GRAY.stroke_width(2)));
        for (i, s) in d.series.iter().enumerate() {
            let col = color(i);
            let pts: Vec<(f64, f64)> = s
                .points
                .iter()
                .map(|p| (ax.t(p.predicted), ax.t(p.measured)))
                .collect();
            let label = format!(
                "{}: {} {}, MAPE {:.1}%",
                proto_name(&s.label),
                s.points.len(),
                d.text[3],
                s.mape()
            );
            if i.is_multiple_of(2) {
                c.draw_series(pts.iter().map(|&p| Circle::new(p, 6, col.filled())))?
                    .label(label)
                    .legend(move |(x, y)| Circle::new((x + 9, y), 6, col.filled()));
            } else {
                c.draw_series(pts.iter().map(|&p| TriangleMarker::new(p, 7, col.filled())))?
                    .label(label)
                    .legend(move |(x, y)| TriangleMarker::new((x + 9, y), 7, col.filled()));
            }
            // Layer names below-right of the points (above-left for the second series), off
            // the y = x line.
            let (anchor, off) = if i.is_multiple_of(2) {
                (Pos::new(HPos::Left, VPos::Top), (7, 5))
            } else {
                (Pos::new(HPos::Right, VPos::Bottom), (-7, -5))
            };
            // Points that (nearly) coincide share one label.
            let mut groups: Vec<((f64, f64), Vec<&str>)> = Vec::new();
            for (p, &xy) in s.points.iter().zip(&pts) {
                let near = |g: &&mut ((f64, f64), Vec<&str>)| {
                    (g.0.0 - xy.0).abs() < 0.03 && (g.0.1 - xy.1).abs() < 0.03
                };
                match groups.iter_mut().find(near) {
                    Some(g) => g.1.push(&p.layer),
                    None => groups.push((xy, vec![&p.layer])),
                }
            }
            c.draw_series(groups.iter().map(|(xy, names)| {
                EmptyElement::at(*xy)
                    + Text::new(names.join(", "), off, font(13).color(&col).pos(anchor))
            }))?;
        }
        legend(&mut c, SeriesLabelPosition::UpperLeft)?;
        Ok(())
    }
}

/// Predicted (x) against measured (y) milliseconds per layer, log-log, with y = x and the
/// MAPE of each series.
pub fn draw_validation(data: &ValidationData, out: &Path) -> Result<()> {
    ensure!(
        data.series.iter().any(|s| !s.points.is_empty()),
        "no validation rows to plot"
    );
    save(&ValidationFig(data), out)
}
