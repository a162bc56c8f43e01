//! Rendering cost, on a typical card and on hostile inputs whose naive implementation is
//! quadratic (these should scale linearly with the input size).

use criterion::{BenchmarkId, Criterion, criterion_group, criterion_main};
use javumbo_templates::{
    Card, CardTemplate, Note, Notetype, NotetypeKind, RenderOptions, extract_av_tags,
    extract_latex, render_card, strip_html,
};

fn notetype(kind: NotetypeKind, qfmt: &str, afmt: &str) -> Notetype {
    Notetype {
        name: "T".into(),
        kind,
        fields: vec!["Text".into(), "Back Extra".into()],
        templates: vec![CardTemplate {
            name: "Card 1".into(),
            qfmt: qfmt.into(),
            afmt: afmt.into(),
            ..Default::default()
        }],
        css: ".card {}".into(),
        latex_svg: false,
    }
}

fn typical(c: &mut Criterion) {
    let nt = notetype(
        NotetypeKind::Cloze,
        "{{cloze:Text}}",
        "{{cloze:Text}}<br>\n{{Back Extra}}",
    );
    let fields = vec![
        "The {{c1::mitochondria::organelle}} is the {{c2::powerhouse}} of the <b>cell</b> [sound:a.mp3]"
            .to_string(),
        "<img src=\"cell.png\">".to_string(),
    ];
    let note = Note {
        fields: &fields,
        tags: &[],
    };
    let card = Card {
        ord: 0,
        id: 1,
        deck: Some("Biology::Cells"),
        flags: 0,
    };
    c.bench_function("render_cloze_card", |b| {
        b.iter(|| render_card(&nt, &note, &card, &RenderOptions::default()))
    });
}

fn hostile(c: &mut Criterion) {
    let mut group = c.benchmark_group("hostile");
    group.sample_size(10);
    for size in [100_000usize, 1_000_000] {
        let styles = "<style><a>".repeat(size / 10);
        group.bench_with_input(
            BenchmarkId::new("strip_html_styles", size),
            &styles,
            |b, s| b.iter(|| strip_html(s)),
        );
        let latex = "[latex][$]a[/$]".repeat(size / 15);
        group.bench_with_input(BenchmarkId::new("latex_unclosed", size), &latex, |b, s| {
            b.iter(|| extract_latex(s, false))
        });
        let tags = "[anki:a x=".repeat(size / 10);
        group.bench_with_input(BenchmarkId::new("av_unclosed", size), &tags, |b, s| {
            b.iter(|| extract_av_tags(s, true))
        });
        let nested = "{{#Text}}".repeat(size / 18) + &"{{/Text}}".repeat(size / 18);
        let nt = notetype(NotetypeKind::Normal, &nested, "");
        let fields = vec!["x".to_string(), String::new()];
        let note = Note {
            fields: &fields,
            tags: &[],
        };
        let card = Card {
            ord: 0,
            id: 1,
            deck: None,
            flags: 0,
        };
        group.bench_with_input(BenchmarkId::new("nested_sections", size), &nt, |b, nt| {
            b.iter(|| render_card(nt, &note, &card, &RenderOptions::default()))
        });
    }
    group.finish();
}

criterion_group!(benches, typical, hostile);
criterion_main!(benches);
