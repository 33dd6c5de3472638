//! Controlled vocabularies of the records (police.uk and the Pledge leaflets), one enum each.
//!
//! The text of every variant is exactly the police.uk string (or the
//! leaflet's wording where police.uk has none), and that text is what goes
//! into the JSON of the device CLI, into the Automerge document and into a
//! published export. One macro defines each enum once so the strings cannot
//! drift between serde, autosurgeon and the FFI.

/// Defines a vocabulary enum whose variants each map to one fixed string.
macro_rules! vocabulary {
    (@label $text:literal) => {{
        let mut chars = $text.chars();
        chars
            .next()
            .map(|first| first.to_uppercase().chain(chars).collect::<String>())
            .unwrap_or_default()
    }};
    (@label $text:literal, $label:literal) => {
        String::from($label)
    };
    ($(#[$meta:meta])* $name:ident { $($(#[$vmeta:meta])* $variant:ident => $text:literal $(label $label:literal)?),+ $(,)? }) => {
        $(#[$meta])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
        #[cfg_attr(feature = "ffi", derive(uniffi::Enum))]
        pub enum $name {
            $($(#[$vmeta])* $variant),+
        }

        impl $name {
            /// Every value, in the order the vocabulary lists them.
            pub const ALL: &'static [$name] = &[$($name::$variant),+];

            /// The vocabulary string of this value.
            pub fn as_str(self) -> &'static str {
                match self {
                    $($name::$variant => $text),+
                }
            }

            /// Parses the exact vocabulary string.
            pub fn parse(text: &str) -> Option<Self> {
                match text {
                    $($text => Some($name::$variant),)+
                    _ => None,
                }
            }

            /// The label an app shows for this value: the vocabulary
            /// string with its first letter in capitals (the police.uk
            /// strings are already written for people), or the label the
            /// table gives. Built once per vocabulary.
            pub fn label(self) -> &'static str {
                static LABELS: std::sync::OnceLock<Vec<String>> = std::sync::OnceLock::new();
                let labels = LABELS.get_or_init(|| {
                    vec![$(vocabulary!(@label $text $(, $label)?)),+]
                });
                let at = Self::ALL.iter().position(|v| *v == self).unwrap_or_default();
                labels.get(at).map(String::as_str).unwrap_or_default()
            }

            /// A readable list of the accepted strings, for error messages.
            pub fn expected() -> String {
                Self::ALL.iter().map(|v| format!("\"{}\"", v.as_str())).collect::<Vec<_>>().join(", ")
            }
        }

        impl std::fmt::Display for $name {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str(self.as_str())
            }
        }

        impl serde::Serialize for $name {
            fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
                serializer.serialize_str(self.as_str())
            }
        }

        impl<'de> serde::Deserialize<'de> for $name {
            fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
                let text = <std::borrow::Cow<'de, str>>::deserialize(deserializer)?;
                Self::parse(&text).ok_or_else(|| {
                    serde::de::Error::custom(format!(
                        "unknown {} {:?}; expected one of {}",
                        stringify!($name), text, Self::expected()
                    ))
                })
            }
        }

        impl autosurgeon::Reconcile for $name {
            type Key<'a> = autosurgeon::reconcile::NoKey;
            fn reconcile<R: autosurgeon::Reconciler>(&self, reconciler: R) -> Result<(), R::Error> {
                self.as_str().reconcile(reconciler)
            }
        }

        impl autosurgeon::Hydrate for $name {
            fn hydrate_string(text: &'_ str) -> Result<Self, autosurgeon::HydrateError> {
                Self::parse(text).ok_or_else(|| {
                    autosurgeon::HydrateError::unexpected(stringify!($name), text.to_string())
                })
            }
        }
    };
}

vocabulary! {
    /// What was searched (police.uk `type`).
    SearchType {
        Person => "Person search",
        Vehicle => "Vehicle search",
        PersonAndVehicle => "Person and Vehicle search",
    }
}

impl SearchType {
    /// Whether a vehicle was searched, so its registration must be recorded.
    pub fn includes_vehicle(self) -> bool {
        matches!(self, SearchType::Vehicle | SearchType::PersonAndVehicle)
    }
}

vocabulary! {
    /// The power used (police.uk `legislation`).
    Legislation {
        PaceSection1 => "Police and Criminal Evidence Act 1984 (section 1)",
        PaceSection6 => "Police and Criminal Evidence Act 1984 (section 6)",
        MisuseOfDrugsSection23 => "Misuse of Drugs Act 1971 (section 23)",
        FirearmsSection47 => "Firearms Act 1968 (section 47)",
        CjpoSection60 => "Criminal Justice and Public Order Act 1994 (section 60)",
        CriminalJusticeSection139b => "Criminal Justice Act 1988 (section 139B)",
        PsychoactiveS36 => "Psychoactive Substances Act 2016 (s36(2))",
        PsychoactiveS37 => "Psychoactive Substances Act 2016 (s37(2))",
        TerrorismSection43 => "Terrorism Act 2000 (section 43)",
        TerrorismSection43a => "Terrorism Act 2000 (section 43A)",
        TerrorismSection47a => "Terrorism Act 2000 (section 47A)",
        CustomsSection163 => "Customs and Excise Management Act 1979 (section 163)",
        WildlifeSection19 => "Wildlife and Countryside Act 1981 (section 19)",
        CrossbowsSection4 => "Crossbows Act 1987 (section 4)",
        AviationSecuritySection27 => "Aviation Security Act 1982 (section 27(1))",
    }
}

impl Legislation {
    /// Powers that exist only under a senior officer's authorisation for an
    /// area and time, so the search belongs to a named policing operation.
    pub fn needs_authorisation(self) -> bool {
        matches!(
            self,
            Legislation::CjpoSection60 | Legislation::TerrorismSection47a
        )
    }
}

vocabulary! {
    /// What the officer was looking for (police.uk `object_of_search`).
    ObjectOfSearch {
        ControlledDrugs => "Controlled drugs",
        OffensiveWeapons => "Offensive weapons",
        StolenGoods => "Stolen goods",
        ArticleForUseInTheft => "Article for use in theft",
        ArticlesForCriminalDamage => "Articles for use in criminal damage",
        Firearms => "Firearms",
        AnythingToThreatenOrHarm => "Anything to threaten or harm anyone",
        Crossbows => "Crossbows",
        EvidenceOfOffencesUnderTheAct => "Evidence of offences under the Act",
        Fireworks => "Fireworks",
        PsychoactiveSubstances => "Psychoactive substances",
        GoodsDutyNotPaid => "Goods on which duty has not been paid etc.",
        EvidenceOfWildlifeOffences => "Evidence of wildlife offences",
    }
}

vocabulary! {
    /// What followed the search (police.uk `outcome`).
    Outcome {
        NoFurtherAction => "A no further action disposal",
        CommunityResolution => "Community resolution",
        Arrest => "Arrest",
        Summons => "Summons / charged by post",
        Caution => "Caution (simple or conditional)",
        PenaltyNotice => "Penalty Notice for Disorder",
        KhatOrCannabisWarning => "Khat or Cannabis warning",
    }
}

impl Outcome {
    /// The police.uk `outcome_object.id`, where police.uk defines one.
    pub fn police_uk_id(self) -> Option<&'static str> {
        match self {
            Outcome::NoFurtherAction => Some("bu-no-further-action"),
            Outcome::CommunityResolution => Some("bu-community-resolution"),
            Outcome::Arrest => Some("bu-arrest"),
            Outcome::Summons => Some("bu-summons"),
            _ => None,
        }
    }
}

vocabulary! {
    /// Gender as recorded by police.uk.
    Gender {
        Male => "Male",
        Female => "Female",
        Other => "Other",
    }
}

vocabulary! {
    /// Age bands of police.uk `age_range`.
    AgeRange {
        Under10 => "under 10",
        From10To17 => "10-17",
        From18To24 => "18-24",
        From25To34 => "25-34",
        Over34 => "over 34",
    }
}

vocabulary! {
    /// The person's own ethnic background: the 18 census groups plus "Not stated".
    SelfDefinedEthnicity {
        W1 => "White - English/Welsh/Scottish/Northern Irish/British",
        W2 => "White - Irish",
        W3 => "White - Gypsy or Irish Traveller",
        W9 => "White - Any other White background",
        M1 => "Mixed/Multiple ethnic groups - White and Black Caribbean",
        M2 => "Mixed/Multiple ethnic groups - White and Black African",
        M3 => "Mixed/Multiple ethnic groups - White and Asian",
        M9 => "Mixed/Multiple ethnic groups - Any other Mixed/Multiple ethnic background",
        A1 => "Asian/Asian British - Indian",
        A2 => "Asian/Asian British - Pakistani",
        A3 => "Asian/Asian British - Bangladeshi",
        A4 => "Asian/Asian British - Chinese",
        A9 => "Asian/Asian British - Any other Asian background",
        B1 => "Black/African/Caribbean/Black British - Caribbean",
        B2 => "Black/African/Caribbean/Black British - African",
        B9 => "Black/African/Caribbean/Black British - Any other Black/African/Caribbean background",
        O2 => "Other ethnic group - Arab",
        O9 => "Other ethnic group - Any other ethnic group",
        NotStated => "Other ethnic group - Not stated",
    }
}

impl SelfDefinedEthnicity {
    /// The census code (W1 ... O9, NS).
    pub fn code(self) -> &'static str {
        use SelfDefinedEthnicity::*;
        match self {
            W1 => "W1",
            W2 => "W2",
            W3 => "W3",
            W9 => "W9",
            M1 => "M1",
            M2 => "M2",
            M3 => "M3",
            M9 => "M9",
            A1 => "A1",
            A2 => "A2",
            A3 => "A3",
            A4 => "A4",
            A9 => "A9",
            B1 => "B1",
            B2 => "B2",
            B9 => "B9",
            O2 => "O2",
            O9 => "O9",
            NotStated => "NS",
        }
    }
}

vocabulary! {
    /// The officer's view (police.uk `officer_defined_ethnicity`): may be
    /// recorded beside the person's own, required when they did not state one.
    OfficerDefinedEthnicity {
        White => "White",
        Black => "Black",
        Asian => "Asian",
        Mixed => "Mixed",
        Other => "Other",
    }
}

vocabulary! {
    /// How a receipt or record was handed to the person.
    ReceiptMedium {
        Printed => "printed",
        Email => "email",
        Text => "text",
    }
}

vocabulary! {
    /// Why officers attended (the leaflet's list).
    AttendanceReason {
        SomeoneInDanger => "someone in danger",
        SeriousAssault => "serious assault",
        CrimeInProgress => "crime in progress",
        SuspectAtScene => "suspect at or near the scene",
        VulnerablePerson => "vulnerable person",
        HateCrime => "hate crime",
        DomesticViolence => "domestic violence",
        LikelyEvidence => "location likely to hold evidence",
        NeighbourhoodPriority => "neighbourhood policing priority",
    }
}

vocabulary! {
    /// The response grade; each carries its Pledge target.
    ResponseGrade {
        /// Arrive within 12 minutes of the call.
        Emergency => "emergency",
        /// Arrive within 60 minutes (vulnerable victim or witness, neighbourhood priority).
        Priority => "priority",
        /// Arrive at an appointment agreed with the caller, within 48 hours.
        Scheduled => "scheduled",
        /// Recorded by phone, at a station or online.
        NotAttended => "not attended",
    }
}

vocabulary! {
    /// How a victim agreed to hear about progress (the Pledge: at least
    /// every 4 weeks).
    UpdateMethod {
        Phone => "phone",
        Email => "email",
        TextMessage => "text message",
        Letter => "letter",
        Visit => "visit",
    }
}

vocabulary! {
    /// The state of one checklist item.
    TickOutcome {
        Done => "done",
        NotApplicable => "not applicable",
        NotDone => "not done",
    }
}

vocabulary! {
    /// Whether the Pledge's response target was met; derived, never typed.
    TargetStatus {
        Met => "met",
        Missed => "missed",
        /// Officers have not arrived yet.
        Pending => "pending",
        /// The grade has no attendance target.
        NotApplicable => "not applicable",
    }
}

vocabulary! {
    /// The four record kinds.
    RecordKind {
        SceneAttendance => "scene-attendance" label "Scene attendance",
        HomeBurglary => "home-burglary" label "Home burglary",
        StopSearch => "stop-search" label "Stop and search",
        StopAccount => "stop-account" label "Stop and account",
    }
}

impl RecordKind {
    /// Whether the Pledge's 12-month retention and copy right apply.
    pub fn is_encounter(self) -> bool {
        matches!(self, RecordKind::StopSearch | RecordKind::StopAccount)
    }
}
