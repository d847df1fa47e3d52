using System.Text;
using ChatPortal.Images;
using SkiaSharp;

using ChatPortal.Tests.Infrastructure;

namespace ChatPortal.Tests.Rich;

public sealed class ImageValidationTests
{
    [Fact]
    public async Task Real_png_jpeg_gif_and_webp_made_here_are_accepted_with_their_type_and_size()
    {
        await using var h = await CoreHarness.StartAsync();
        var cases = new (byte[] Bytes, string Type, int W, int H)[]
        {
            (TestImages.Png(64, 48), "image/png", 64, 48),
            (TestImages.Encode(SKEncodedImageFormat.Jpeg, 80, 60), "image/jpeg", 80, 60),
            (TestImages.Gif(40, 30), "image/gif", 40, 30),
            (TestImages.Encode(SKEncodedImageFormat.Webp, 50, 20), "image/webp", 50, 20),
        };
        foreach (var (bytes, type, w, hgt) in cases)
        {
            // The hand-written GIF is a real one: Skia decodes it on its own too.
            using (var decoded = SKBitmap.Decode(bytes)) Assert.NotNull(decoded);
            var r = await h.Images.SaveAsync(bytes, uploaderId: 1, originalName: "photo.bin");
            Assert.True(r.Ok, $"{type}: {r.Error?.Message}");
            Assert.Equal(type, r.Value!.ContentType);
            Assert.Equal((w, hgt), (r.Value.Width, r.Value.Height));
            var path = h.Images.PathOf(r.Value.Id);
            Assert.NotNull(path);
            Assert.Equal(bytes, await File.ReadAllBytesAsync(path));
        }
    }

    [Fact]
    public async Task Svg_renamed_to_png_is_rejected_by_content()
    {
        await using var h = await CoreHarness.StartAsync();
        var svg = Encoding.UTF8.GetBytes("<svg xmlns=\"http://www.w3.org/2000/svg\" onload=\"alert(1)\"><script>alert(2)</script></svg>");
        var r = await h.Images.SaveAsync(svg, 1, "cute-cat.png");
        Assert.Equal("image_type", r.Error?.Code);
        Assert.Empty(StoredFiles(h));
    }

    [Fact]
    public async Task Html_behind_png_magic_bytes_is_rejected_by_the_decoder()
    {
        await using var h = await CoreHarness.StartAsync();
        var html = TestImages.PngHeader(10, 10, Encoding.UTF8.GetBytes("<html><body><script>alert(document.cookie)</script></body></html>"));
        // The header alone looks like a small PNG: only the real decode catches it.
        Assert.Equal(("image/png", 10, 10), ImageSniffer.Identify(html));
        var r = await h.Images.SaveAsync(html, 1, "page.png");
        Assert.Equal("image_corrupt", r.Error?.Code);
        Assert.Empty(StoredFiles(h));
    }

    [Theory]
    [InlineData(SKEncodedImageFormat.Png)]
    [InlineData(SKEncodedImageFormat.Jpeg)]
    [InlineData(SKEncodedImageFormat.Webp)]
    public async Task Truncated_files_are_rejected(SKEncodedImageFormat format)
    {
        await using var h = await CoreHarness.StartAsync();
        var whole = TestImages.Encode(format, 200, 150, noise: true);
        Assert.True((await h.Images.SaveAsync(whole, 1)).Ok);
        var cut = whole[..(whole.Length / 2)];
        var r = await h.Images.SaveAsync(cut, 1, "cut.img");
        Assert.Equal("image_corrupt", r.Error?.Code);
        Assert.Single(StoredFiles(h)); // only the whole one
    }

    [Fact]
    public async Task Truncated_gif_is_rejected()
    {
        await using var h = await CoreHarness.StartAsync();
        var whole = TestImages.Gif(120, 90);
        var r = await h.Images.SaveAsync(whole[..(whole.Length / 3)], 1);
        Assert.Equal("image_corrupt", r.Error?.Code);
    }

    [Fact]
    public async Task A_50000_by_50000_header_is_rejected_before_decoding()
    {
        await using var h = await CoreHarness.StartAsync();
        var bomb = TestImages.PngHeader(50_000, 50_000, new byte[64]);
        var r = await h.Images.SaveAsync(bomb, 1, "bomb.png");
        // "image_dimensions" comes only from the header caps, which run before any decoder sees the bytes.
        Assert.Equal("image_dimensions", r.Error?.Code);
        Assert.Contains("50000×50000", r.Error!.Message);
        // Under the per-side cap but over the pixel cap (7000 × 7000 = 49 MP > 40 MP): rejected the same way.
        var wide = await h.Images.SaveAsync(TestImages.PngHeader(7_000, 7_000, new byte[64]), 1);
        Assert.Equal("image_dimensions", wide.Error?.Code);
        Assert.Empty(StoredFiles(h));
    }

    [Fact]
    public async Task Oversized_files_and_empty_files_are_rejected()
    {
        await using var h = await CoreHarness.StartAsync(settings: new() { ["Images:MaxBytes"] = "1000" });
        var big = TestImages.Png(300, 300, noise: true);
        Assert.True(big.Length > 1000);
        Assert.Equal("image_too_large", (await h.Images.SaveAsync(big, 1)).Error?.Code);
        Assert.Equal("image_empty", (await h.Images.SaveAsync(Array.Empty<byte>(), 1)).Error?.Code);
    }

    [Fact]
    public async Task Uploads_are_rate_limited_per_user()
    {
        await using var h = await CoreHarness.StartAsync(settings: new() { ["Images:UploadBurst"] = "3", ["Images:UploadsPerMinute"] = "1" });
        var png = TestImages.Png(8, 8);
        for (var i = 0; i < 3; i++) Assert.True((await h.Images.SaveAsync(png, uploaderId: 7)).Ok);
        Assert.Equal("rate_limited", (await h.Images.SaveAsync(png, uploaderId: 7)).Error?.Code);
        Assert.True((await h.Images.SaveAsync(png, uploaderId: 8)).Ok); // others are not affected
    }

    [Fact]
    public void Image_urls_use_the_public_base_url_when_set()
    {
        var own = new ImageUrls(Microsoft.Extensions.Options.Options.Create(new Hosting.PortalOptions()));
        Assert.Equal("/images/abc", own.For("abc"));
        var cdn = new ImageUrls(Microsoft.Extensions.Options.Options.Create(new Hosting.PortalOptions { PublicImageBaseUrl = "https://cdn.example.com/img" }));
        Assert.Equal("https://cdn.example.com/img/abc", cdn.For("abc"));
        Assert.Throws<InvalidOperationException>(() =>
            new ImageUrls(Microsoft.Extensions.Options.Options.Create(new Hosting.PortalOptions { PublicImageBaseUrl = "javascript:alert(1)//" })));
    }

    private static string[] StoredFiles(CoreHarness h) =>
        Directory.Exists(h.Images.Folder) ? Directory.GetFiles(h.Images.Folder) : [];
}
