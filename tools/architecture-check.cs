#!/usr/bin/env dotnet
// Architecture check (issue 17): prints the largest source files and the dependency pairs between the rooms
// (top-level folders) of src/ProxyScheduler, read from `using` directives and type references, and fails when
//   - two rooms use each other in both directions (a back edge),
//   - a source file is longer than the bound (600 lines by default, --max-lines N),
//   - src/ProxyScheduler.Redis names the dispatcher or an internal type that is not in the Fleet/ room.
// Run from the repository root:  dotnet run tools/architecture-check.cs   (test.sh runs it before the tests)
// A type reference is a whole-word match of a type declared at the top level of another room (or a namespace-qualified
// one), outside comments and strings; a name declared in more than one room is ambiguous and not counted (the check
// lists such names). Public types are the library's face, whose namespaces compatibility fixes: naming one is listed
// as a dependency but is not a back edge; two rooms that use each other's internal types are.
using System.Text;
using System.Text.RegularExpressions;

var maxLines = 600;
var updateBaseline = false;
var root = Directory.GetCurrentDirectory();
for (var i = 0; i < args.Length; i++)
{
    if (args[i] == "--max-lines" && i + 1 < args.Length && int.TryParse(args[++i], out var n) && n > 0) { maxLines = n; }
    else if (args[i] == "--update-baseline") { updateBaseline = true; }
    else if (args[i] == "--root" && i + 1 < args.Length) { root = Path.GetFullPath(args[++i]); }
    else { Console.Error.WriteLine($"architecture-check: unknown argument '{args[i]}' (use --max-lines N, --root DIR, --update-baseline)"); return 2; }
}

var core = Path.Combine(root, "src", "ProxyScheduler");
var redis = Path.Combine(root, "src", "ProxyScheduler.Redis");
if (!Directory.Exists(core))
{
    Console.Error.WriteLine($"architecture-check: '{core}' not found; run from the repository root or pass --root.");
    return 2;
}

var declaration = new Regex(
    @"^((?:public|internal|private|protected|file|static|sealed|abstract|partial|readonly|ref|unsafe|new)\s+)*(?:class|struct|interface|enum|record(?:\s+struct|\s+class)?|delegate\s+[\w<>\[\]?,. ]+?)\s+(?<name>[A-Z]\w*)",
    RegexOptions.Multiline);
var identifier = new Regex(@"(?<![.\w])[A-Z]\w*\b"); // a member access (x.Group) is not a type reference
var failures = new List<(string Key, string Message)>();

var files = Directory.EnumerateFiles(core, "*.cs", SearchOption.AllDirectories)
    .Where(f => !f.Contains($"{Path.DirectorySeparatorChar}obj{Path.DirectorySeparatorChar}") && !f.Contains($"{Path.DirectorySeparatorChar}bin{Path.DirectorySeparatorChar}"))
    .Select(f => new SourceFile(f, RoomOf(core, f), StripCommentsAndStrings(File.ReadAllText(f)), File.ReadAllLines(f).Length))
    .ToList();
var redisFiles = Directory.Exists(redis)
    ? Directory.EnumerateFiles(redis, "*.cs", SearchOption.AllDirectories)
        .Where(f => !f.Contains($"{Path.DirectorySeparatorChar}obj{Path.DirectorySeparatorChar}") && !f.Contains($"{Path.DirectorySeparatorChar}bin{Path.DirectorySeparatorChar}"))
        .Select(f => new SourceFile(f, "Redis", StripCommentsAndStrings(File.ReadAllText(f)), File.ReadAllLines(f).Length))
        .ToList()
    : new List<SourceFile>();

// Where each type is declared, and whether it is public.
var declaredIn = new Dictionary<string, HashSet<string>>(StringComparer.Ordinal);
var publicTypes = new HashSet<string>(StringComparer.Ordinal);
foreach (var file in files)
{
    foreach (Match m in declaration.Matches(file.Code))
    {
        var name = m.Groups["name"].Value;
        if (m.Value.Contains("private ", StringComparison.Ordinal) || m.Value.Contains("file ", StringComparison.Ordinal)) { continue; } // nested helpers no other room can name
        if (!declaredIn.TryGetValue(name, out var rooms)) { declaredIn[name] = rooms = new HashSet<string>(); }
        rooms.Add(file.Room);
        if (m.Value.Contains("public ", StringComparison.Ordinal)) { publicTypes.Add(name); }
    }
}

var ambiguous = declaredIn.Where(kv => kv.Value.Count > 1).Select(kv => kv.Key).OrderBy(k => k, StringComparer.Ordinal).ToList();

var roomNames = files.Select(f => f.Room).ToHashSet(StringComparer.Ordinal);
var qualified = new Regex(@"(?<![.\w])(?:ProxyScheduler\.)?(?<room>[A-Z]\w*)\.(?:[A-Z]\w*\.)*(?<name>[A-Z]\w*)\b");

// Room → room edges, with an example for each.
var edges = new Dictionary<(string From, string To), SortedSet<string>>();
var internalEdges = new HashSet<(string From, string To)>();
foreach (var file in files)
{
    void Add(string to, string why, bool internalType)
    {
        if (internalType) { internalEdges.Add((file.Room, to)); }
        if (to == file.Room || to == "(root)" || file.Room == "(root)") { return; }
        if (!edges.TryGetValue((file.Room, to), out var why_)) { edges[(file.Room, to)] = why_ = new SortedSet<string>(StringComparer.Ordinal); }
        why_.Add(why);
    }

    foreach (var name in identifier.Matches(file.Code).Select(m => m.Value).Distinct())
    {
        if (declaredIn.TryGetValue(name, out var rooms) && rooms.Count == 1)
        {
            Add(rooms.First(), $"{Rel(file.Path)}: {name}", !publicTypes.Contains(name));
        }
    }

    // A namespace-qualified name (Scheduling.Internal.HostState) reaches the room it names.
    foreach (Match m in qualified.Matches(file.Code))
    {
        if (roomNames.Contains(m.Groups["room"].Value))
        {
            var name = m.Groups["name"].Value;
            if (declaredIn.TryGetValue(name, out var rooms) && rooms.Contains(m.Groups["room"].Value))
            {
                Add(m.Groups["room"].Value, $"{Rel(file.Path)}: {name}", !publicTypes.Contains(name));
            }
        }
    }
}

Console.WriteLine($"Largest source files (bound {maxLines} lines):");
foreach (var file in files.Concat(redisFiles).OrderByDescending(f => f.Lines).Take(15))
{
    Console.WriteLine($"  {file.Lines,6}  {Rel(file.Path)}");
}

foreach (var file in files.Concat(redisFiles).Where(f => f.Lines > maxLines))
{
    failures.Add(($"size {Rel(file.Path)} {file.Lines}", $"{Rel(file.Path)} has {file.Lines} lines (bound {maxLines}): split it by concern."));
}

Console.WriteLine();
Console.WriteLine("Room dependencies (from → to: references; 'public' when only public types are used):");
foreach (var ((from, to), why) in edges.OrderBy(e => e.Key.From, StringComparer.Ordinal).ThenBy(e => e.Key.To, StringComparer.Ordinal))
{
    var types = why.Select(w => w[(w.LastIndexOf(": ", StringComparison.Ordinal) + 2)..]).Distinct().Take(6);
    Console.WriteLine($"  {from,-20} → {to,-20} {why.Count,3}{(internalEdges.Contains((from, to)) ? "        " : "  public")}  ({string.Join(", ", types)})");
}

foreach (var ((from, to), why) in edges)
{
    // A back edge is two rooms using each other's internals. The public types are the library's face (their namespaces
    // are fixed by compatibility): any room may name them, so a reference to a public type alone is not a back edge.
    if (string.CompareOrdinal(from, to) < 0 && edges.TryGetValue((to, from), out var back)
        && internalEdges.Contains((from, to)) && internalEdges.Contains((to, from)))
    {
        failures.Add(($"edge {from} {to}", $"back edge: {from} ↔ {to}\n      {from} → {to}: {string.Join("; ", why.Take(4))}\n      {to} → {from}: {string.Join("; ", back.Take(4))}"));
    }
}

// The Redis package plugs into the Fleet/ port: it sees public types and Fleet/ only.
Console.WriteLine();
Console.WriteLine("ProxyScheduler.Redis → internal types of ProxyScheduler:");
var redisInternal = new SortedSet<string>(StringComparer.Ordinal);
var anyDeclaration = new Regex(@"^\s*" + declaration.ToString()[1..], RegexOptions.Multiline);
var redisDeclared = redisFiles.SelectMany(f => anyDeclaration.Matches(f.Code).Select(m => m.Groups["name"].Value)).ToHashSet(StringComparer.Ordinal);

// The port's vocabulary: internal root types that the Fleet/ interfaces name (HostKey) may be used by the Redis package.
var fleetVocabulary = files.Where(f => f.Room == "Fleet")
    .SelectMany(f => identifier.Matches(f.Code).Select(m => m.Value))
    .Where(n => declaredIn.TryGetValue(n, out var r) && r.Count == 1 && r.Contains("(root)"))
    .ToHashSet(StringComparer.Ordinal);
foreach (var file in redisFiles)
{
    if (Regex.IsMatch(file.Code, @"\bDispatcher\b"))
    {
        failures.Add(($"redis-dispatcher {Rel(file.Path)}", $"{Rel(file.Path)} names the Dispatcher: the Redis package sees the Fleet/ interfaces only."));
    }

    foreach (var name in identifier.Matches(file.Code).Select(m => m.Value).Distinct())
    {
        if (declaredIn.TryGetValue(name, out var rooms) && !publicTypes.Contains(name) && !redisDeclared.Contains(name) && !fleetVocabulary.Contains(name) && !(rooms.Count == 1 && rooms.Contains("Fleet")))
        {
            redisInternal.Add($"{name} ({string.Join("/", rooms)})");
            failures.Add(($"redis-internal {Rel(file.Path)} {name}", $"{Rel(file.Path)} uses {name}, an internal type of {string.Join("/", rooms)}: the Redis package sees public types and Fleet/ only."));
        }
    }
}

Console.WriteLine(redisInternal.Count == 0 ? "  none" : "  " + string.Join(", ", redisInternal));

if (ambiguous.Count > 0)
{
    Console.WriteLine();
    Console.WriteLine($"Names declared in more than one room (not counted): {string.Join(", ", ambiguous)}");
}

// Known debts are listed in tools/architecture-baseline.txt while the restructuring (issue 17) is under way: a listed
// back edge or Redis reference is reported but tolerated, a listed file may not grow past its recorded length, and an
// entry that no longer fails must be removed (so the list only shrinks). --update-baseline rewrites it.
var baselinePath = Path.Combine(root, "tools", "architecture-baseline.txt");
var baseline = File.Exists(baselinePath)
    ? File.ReadAllLines(baselinePath).Where(l => l.Length > 0 && !l.StartsWith('#')).ToList()
    : new List<string>();
if (updateBaseline)
{
    var header = "# Known architecture debts (issue 17); tools/architecture-check.cs fails on anything new and on stale lines.";
    File.WriteAllLines(baselinePath, failures.Select(f => f.Key).OrderBy(k => k, StringComparer.Ordinal).Prepend(header));
    Console.WriteLine($"architecture-check: wrote {failures.Count} entries to {Rel(baselinePath)}.");
    return 0;
}

bool Tolerated(string key)
{
    if (!key.StartsWith("size ", StringComparison.Ordinal)) { return baseline.Contains(key); }
    var cut = key.LastIndexOf(' ');
    var lines = int.Parse(key[(cut + 1)..], System.Globalization.CultureInfo.InvariantCulture);
    return baseline.Any(b => b.StartsWith(key[..(cut + 1)], StringComparison.Ordinal)
        && int.Parse(b[(cut + 1)..], System.Globalization.CultureInfo.InvariantCulture) >= lines);
}

var tolerated = failures.Where(f => Tolerated(f.Key)).ToList();
var fresh = failures.Where(f => !Tolerated(f.Key)).ToList();
var stale = baseline.Where(b => !failures.Any(f => f.Key == b
    || (b.StartsWith("size ", StringComparison.Ordinal) && f.Key.StartsWith(b[..(b.LastIndexOf(' ') + 1)], StringComparison.Ordinal)))).ToList();

Console.WriteLine();
foreach (var (_, message) in tolerated)
{
    Console.WriteLine($"architecture-check: known debt: {message}");
}

foreach (var (_, message) in fresh)
{
    Console.WriteLine($"architecture-check: FAIL {message}");
}

foreach (var entry in stale)
{
    Console.WriteLine($"architecture-check: FAIL '{entry}' in {Rel(baselinePath)} no longer fails: remove it.");
}

if (fresh.Count == 0 && stale.Count == 0)
{
    Console.WriteLine($"architecture-check: passed ({files.Count + redisFiles.Count} files, {edges.Count} room dependencies, {tolerated.Count} known debts left).");
    return 0;
}

Console.WriteLine($"architecture-check: {fresh.Count + stale.Count} failure(s).");
return 1;

string Rel(string path) => Path.GetRelativePath(root, path).Replace('\\', '/');

static string RoomOf(string core, string file)
{
    var rel = Path.GetRelativePath(core, file).Replace('\\', '/');
    var slash = rel.IndexOf('/');
    return slash < 0 ? "(root)" : rel[..slash];
}

// Blanks comments, string and character literals (keeping line breaks) so that a word in a comment or a message
// is not read as a reference. Handles //, /* */, "…", @"…", $"…" (holes are kept as code), """…""" and '…'.
static string StripCommentsAndStrings(string text)
{
    var sb = new StringBuilder(text.Length);
    var i = 0;
    while (i < text.Length)
    {
        var c = text[i];
        if (c == '/' && i + 1 < text.Length && text[i + 1] == '/')
        {
            while (i < text.Length && text[i] != '\n') { i++; }
        }
        else if (c == '/' && i + 1 < text.Length && text[i + 1] == '*')
        {
            i += 2;
            while (i + 1 < text.Length && !(text[i] == '*' && text[i + 1] == '/')) { if (text[i] == '\n') { sb.Append('\n'); } i++; }
            i += 2;
        }
        else if (c == '"' && i + 2 < text.Length && text[i + 1] == '"' && text[i + 2] == '"')
        {
            i += 3;
            while (i + 2 < text.Length && !(text[i] == '"' && text[i + 1] == '"' && text[i + 2] == '"')) { if (text[i] == '\n') { sb.Append('\n'); } i++; }
            i += 3;
            sb.Append("\"\"");
        }
        else if (c == '"' || (c == '@' && i + 1 < text.Length && text[i + 1] == '"'))
        {
            var verbatim = c == '@';
            var interpolated = i > 0 && text[i - 1] == '$';
            i += verbatim ? 2 : 1;
            sb.Append('"');
            while (i < text.Length)
            {
                if (!verbatim && text[i] == '\\') { i += 2; continue; }
                if (text[i] == '"')
                {
                    if (verbatim && i + 1 < text.Length && text[i + 1] == '"') { i += 2; continue; }
                    i++;
                    break;
                }

                if (interpolated && text[i] == '{' && i + 1 < text.Length && text[i + 1] != '{')
                {
                    var depth = 0;
                    while (i < text.Length)
                    {
                        if (text[i] == '{') { depth++; }
                        else if (text[i] == '}' && --depth == 0) { sb.Append(' '); i++; break; }
                        sb.Append(text[i] == '"' ? ' ' : text[i]);
                        i++;
                    }

                    continue;
                }

                if (text[i] == '\n') { sb.Append('\n'); }
                i++;
            }

            sb.Append('"');
        }
        else if (c == '\'' && i + 2 < text.Length && (text[i + 2] == '\'' || (text[i + 1] == '\\' && i + 3 < text.Length)))
        {
            i++;
            while (i < text.Length && text[i] != '\'') { if (text[i] == '\\') { i++; } i++; }
            i++;
            sb.Append("' '");
        }
        else
        {
            sb.Append(c);
            i++;
        }
    }

    return sb.ToString();
}

internal sealed record SourceFile(string Path, string Room, string Code, int Lines);
