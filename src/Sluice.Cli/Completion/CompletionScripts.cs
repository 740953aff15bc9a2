using System.Text;

namespace Sluice.Cli.Completion;

/// <summary>
/// Writes completion scripts for bash, zsh and fish from a <see cref="CompletionModel"/>. Each shell walks the words
/// typed so far (skipping options and their values, following aliases) to the command being completed, then offers its
/// subcommands, its options, an option's fixed choices, or file names.
/// </summary>
internal static class CompletionScripts
{
    public static string Bash(CompletionModel model, string program) => BashBody(model, program, zsh: false);

    // zsh runs the bash script through bashcompinit (shipped with zsh): one algorithm, tested once.
    public static string Zsh(CompletionModel model, string program) =>
        $"#compdef {program}\n# {program} completion for zsh: eval \"$({program} completion zsh)\" in ~/.zshrc\n"
        + "autoload -U +X compinit && compinit\nautoload -U +X bashcompinit && bashcompinit\n"
        + BashBody(model, program, zsh: true);

    private static string BashBody(CompletionModel model, string program, bool zsh)
    {
        var fn = "_" + Identifier(program);
        var sb = new StringBuilder();
        if (!zsh)
        {
            sb.Append($"# {program} completion for bash: source <({program} completion bash) in ~/.bashrc\n");
        }

        sb.Append($"{fn}() {{\n");
        sb.Append("  local cur=\"${COMP_WORDS[COMP_CWORD]}\" prev=\"\" path=\"" + program + "\" skip=0 i w\n");
        sb.Append("  (( COMP_CWORD > 0 )) && prev=\"${COMP_WORDS[COMP_CWORD-1]}\"\n");
        sb.Append("  for (( i=1; i<COMP_CWORD; i++ )); do\n");
        sb.Append("    w=\"${COMP_WORDS[i]}\"\n");
        sb.Append("    if (( skip )); then skip=0; continue; fi\n");
        sb.Append("    case \"$w\" in\n");
        sb.Append("      -*=*) ;;\n");
        sb.Append($"      -*) [[ \" $({fn}_valued \"$path\") \" == *\" $w \"* ]] && skip=1 ;;\n");
        sb.Append($"      *) local next; next=\"$({fn}_child \"$path\" \"$w\")\"; [[ -n \"$next\" ]] && path=\"$next\" ;;\n");
        sb.Append("    esac\n");
        sb.Append("  done\n");
        sb.Append($"  if [[ \"$prev\" == -* && \" $({fn}_valued \"$path\") \" == *\" $prev \"* ]]; then\n");
        sb.Append($"    if [[ \" $({fn}_files \"$path\") \" == *\" $prev \"* ]]; then COMPREPLY=( $(compgen -f -- \"$cur\") ); return; fi\n");
        sb.Append($"    COMPREPLY=( $(compgen -W \"$({fn}_choices \"$path\" \"$prev\")\" -- \"$cur\") ); return\n");
        sb.Append("  fi\n");
        sb.Append($"  if [[ \"$cur\" == -* ]]; then COMPREPLY=( $(compgen -W \"$({fn}_options \"$path\")\" -- \"$cur\") ); return; fi\n");
        sb.Append($"  COMPREPLY=( $(compgen -W \"$({fn}_subcommands \"$path\")\" -- \"$cur\") )\n");
        sb.Append("}\n");

        Lookup(sb, fn + "_subcommands", model.Nodes.Select(n => (n.Path, string.Join(' ', n.Subcommands.Select(s => s.Name)))));
        Lookup(sb, fn + "_options", model.Nodes.Select(n => (n.Path, string.Join(' ', n.Options.SelectMany(o => o.Names)))));
        Lookup(sb, fn + "_valued", model.Nodes.Select(n => (n.Path, string.Join(' ', n.Options.Where(o => o.TakesValue).SelectMany(o => o.Names)))));
        Lookup(sb, fn + "_files", model.Nodes.Select(n => (n.Path, string.Join(' ', n.Options.Where(o => o.IsFile).SelectMany(o => o.Names)))));

        // child PATH WORD: the path of subcommand (or alias) WORD under PATH, else nothing.
        sb.Append($"{fn}_child() {{\n  case \"$1|$2\" in\n");
        foreach (var node in model.Nodes)
        {
            foreach (var sub in node.Subcommands)
            {
                var names = string.Join('|', new[] { sub.Name }.Concat(sub.Aliases).Select(a => Quote(node.Path + "|" + a)));
                sb.Append($"    {names}) echo {Quote(node.Path + " " + sub.Name)} ;;\n");
            }
        }

        sb.Append("  esac\n}\n");

        // choices PATH OPTION: the option's fixed values.
        sb.Append($"{fn}_choices() {{\n  case \"$1|$2\" in\n");
        foreach (var node in model.Nodes)
        {
            foreach (var option in node.Options.Where(o => o.Choices.Count > 0))
            {
                sb.Append($"    {string.Join('|', option.Names.Select(n => Quote(node.Path + "|" + n)))}) echo {Quote(string.Join(' ', option.Choices))} ;;\n");
            }
        }

        sb.Append("  esac\n}\n");
        sb.Append($"complete -o default -F {fn} {program}\n");
        return sb.ToString();
    }

    private static void Lookup(StringBuilder sb, string name, IEnumerable<(string Path, string Words)> entries)
    {
        sb.Append($"{name}() {{\n  case \"$1\" in\n");
        foreach (var (path, words) in entries.Where(e => e.Words.Length > 0))
        {
            sb.Append($"    {Quote(path)}) echo {Quote(words)} ;;\n");
        }

        sb.Append("  esac\n}\n");
    }

    public static string Fish(CompletionModel model, string program)
    {
        var fn = "__" + Identifier(program);
        var sb = new StringBuilder();
        sb.Append($"# {program} completion for fish: {program} completion fish > ~/.config/fish/completions/{program}.fish\n");

        // The path of the command being completed: walks the words before the cursor as the bash script does.
        sb.Append($"function {fn}_path\n");
        sb.Append($"    set -l path {program}\n    set -l skip 0\n");
        sb.Append("    for w in (commandline -opc)[2..-1]\n");
        sb.Append("        if test $skip = 1\n            set skip 0\n            continue\n        end\n");
        sb.Append("        switch $w\n");
        sb.Append("            case '-*=*'\n");
        sb.Append("            case '-*'\n");
        sb.Append($"                if contains -- \"$path $w\" ${fn}_valued\n                    set skip 1\n                end\n");
        sb.Append("            case '*'\n");
        sb.Append($"                set -l i (contains -i -- \"$path $w\" ${fn}_words)\n");
        sb.Append($"                and set path ${fn}_targets[$i]\n");
        sb.Append("        end\n    end\n    echo $path\nend\n");

        var words = model.Nodes.SelectMany(n => n.Subcommands.SelectMany(s => new[] { s.Name }.Concat(s.Aliases).Select(a => (Word: n.Path + " " + a, Target: n.Path + " " + s.Name)))).ToList();
        sb.Append($"set -g {fn}_words {string.Join(' ', words.Select(w => FishQuote(w.Word)))}\n");
        sb.Append($"set -g {fn}_targets {string.Join(' ', words.Select(w => FishQuote(w.Target)))}\n");
        sb.Append($"set -g {fn}_valued {string.Join(' ', model.Nodes.SelectMany(n => n.Options.Where(o => o.TakesValue).SelectMany(o => o.Names).Select(o => FishQuote(n.Path + " " + o))))}\n");
        sb.Append($"complete -c {program} -f\n");
        foreach (var node in model.Nodes)
        {
            // Double quotes around the condition: fish evaluates it later, and paths hold no quote or $.
            var at = $"-n \"test ({fn}_path) = {FishQuote(node.Path)}\"";
            foreach (var sub in node.Subcommands)
            {
                sb.Append($"complete -c {program} {at} -a {FishQuote(sub.Name)} -d {FishQuote(sub.Description)}\n");
            }

            foreach (var option in node.Options)
            {
                var names = string.Join(' ', option.Names.Select(n => n.StartsWith("--", StringComparison.Ordinal) ? "-l " + n[2..] : n.Length == 2 ? "-s " + n[1..] : "-o " + n[1..]));
                var value = !option.TakesValue ? "" : option.IsFile ? " -r -F" : option.Choices.Count > 0 ? $" -x -a {FishQuote(string.Join(' ', option.Choices))}" : " -x";
                sb.Append($"complete -c {program} {at} {names}{value} -d {FishQuote(option.Description)}\n");
            }
        }

        return sb.ToString();
    }

    // Single quotes for bash and zsh: a quote inside is closed, escaped and reopened.
    private static string Quote(string s) => "'" + s.Replace("'", "'\\''", StringComparison.Ordinal) + "'";

    // fish's single quotes take \' and \\ escapes instead.
    private static string FishQuote(string s) => "'" + s.Replace("\\", "\\\\", StringComparison.Ordinal).Replace("'", "\\'", StringComparison.Ordinal) + "'";

    private static string Identifier(string program) => new([.. program.Select(c => char.IsAsciiLetterOrDigit(c) ? c : '_')]);
}
