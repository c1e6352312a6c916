/// Words, people and places for a plausible office mailbox. Every domain and address block is reserved for
/// documentation (RFC 2606, RFC 5737), so the corpus never names a real host.
enum CorpusText {
    static let words = """
        the a to of and in for on with that this is was be are as we it not have from by at will our
        meeting budget report quarter project invoice schedule review draft contract proposal minutes agenda
        client customer supplier order delivery shipment warehouse office team department manager colleague
        monday tuesday wednesday thursday friday weekend morning afternoon tomorrow yesterday week month year
        please thanks regards attached below above following update status question answer issue problem
        server backup migration mailbox account password network printer laptop license renewal upgrade
        travel hotel flight conference workshop training lunch dinner coffee holiday vacation birthday
        figures numbers totals estimate forecast revenue costs margin payment reminder overdue balance
        send sent received check confirm discuss prepare finish start call visit book cancel move change
        soon again already still just only also maybe perhaps certainly probably quickly finally usually
        new old next last first second final small large important urgent simple detailed short long
        """.split(whereSeparator: { $0 == " " || $0 == "\n" }).map(String.init)

    static let firstNames = [
        "Anna", "Bernd", "Carla", "David", "Elena", "Frank", "Greta", "Hugo", "Ines", "Jonas", "Karin", "Lukas",
        "Maria", "Niklas", "Olga", "Paul", "Rita", "Stefan", "Tanja", "Uwe", "Vera", "Walter", "Yvonne", "Zoe",
    ]
    static let lastNames = [
        "Meyer", "Schmidt", "Novak", "Rossi", "Dubois", "Jensen", "Kowalski", "Silva", "Berg", "Lindqvist",
        "Okafor", "Tanaka", "Moreau", "Fischer", "Horvat", "Brennan", "Costa", "Varga", "Keller", "Nilsson",
    ]
    static let senderDomains = [
        "example.com", "example.net", "example.org", "mail.example.com", "corp.example.net", "acme.test",
        "partner.example", "lists.example.org", "shop.example.com", "university.example",
    ]
    static let topics = [
        "Quarterly report", "Budget for next year", "Meeting on Thursday", "Invoice 2291", "Server migration",
        "Holiday schedule", "New printer on the second floor", "Contract renewal", "Minutes of the team meeting",
        "Travel plans for the conference", "Backup failed last night", "Draft proposal, please review",
        "Lunch tomorrow?", "Password change reminder", "Shipment delayed", "Welcome to the team",
        "Figures for the board", "Training workshop registration", "Office move", "Question about your order",
    ]
    static let mailers = [
        "Microsoft Outlook 11", "Mozilla Thunderbird 2.0.0.23", "Apple Mail (2.1077)", "Evolution 2.28.3",
        "Mutt/1.5.20 (2009-06-14)", "KMail/1.9.10", "Roundcube Webmail/0.3.1", "SquirrelMail/1.4.19",
    ]
    static let lists = ["staff", "announce", "it-support", "sales", "book-club"]

    static func sentence(_ rng: inout SplitMix64) -> String {
        let count = rng.int(in: 6...18)
        var chosen = (0..<count).map { _ in rng.pick(words) }
        chosen[0] = chosen[0].prefix(1).uppercased() + chosen[0].dropFirst()
        return chosen.joined(separator: " ") + rng.pick([".", ".", ".", "?", "!"])
    }

    static func paragraph(_ rng: inout SplitMix64) -> String {
        (0..<rng.int(in: 2...6)).map { _ in sentence(&rng) }.joined(separator: " ")
    }

    /// Greedy word wrap at `width` columns; never produces a line that starts with a space.
    static func wrap(_ text: String, width: Int = 72) -> [String] {
        var lines: [String] = []
        var current = ""
        for word in text.split(separator: " ") {
            if !current.isEmpty && current.count + 1 + word.count > width {
                lines.append(current)
                current = ""
            }
            current += current.isEmpty ? String(word) : " " + word
        }
        if !current.isEmpty {
            lines.append(current)
        }
        return lines
    }

    /// Wrapped paragraphs separated by empty lines, about `targetBytes` long.
    static func body(targetBytes: Int, _ rng: inout SplitMix64) -> [String] {
        var lines: [String] = []
        var size = 0
        repeat {
            if !lines.isEmpty {
                lines.append("")
            }
            for line in wrap(paragraph(&rng)) {
                lines.append(line)
                size += line.utf8.count + 2
            }
        } while size < targetBytes
        return lines
    }
}

extension String {
    /// "alice" → "Alice"; Foundation's `capitalized` would also lowercase the rest and depends on the locale.
    var capitalizedFirst: String {
        prefix(1).uppercased() + dropFirst()
    }
}
